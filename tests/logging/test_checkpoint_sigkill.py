"""A process SIGKILLed while it writes a checkpoint leaves the last complete one loadable: the write goes to a
temporary file renamed into place (rlframe/logging/checkpoint.py), and a resume removes the half-written rest."""
import glob
import multiprocessing as mp
import os
import signal
import time

import torch

from rlframe.logging import checkpoint as ckpt


def _writer(checkpoint_dir):
    big = torch.randn(4_000_000)  # 16 MB: a write takes long enough to be caught in the middle
    for itr in range(10_000):
        ckpt.save_checkpoint({"itr": itr, "weights": big}, checkpoint_dir, itr, keep_last=2)


def test_sigkill_during_checkpoint_writes_always_leaves_the_last_complete_one(tmp_path):
    for attempt in range(3):
        d = str(tmp_path / f"ckpt{attempt}")
        os.makedirs(d)
        p = mp.get_context("fork").Process(target=_writer, args=(d,))
        p.start()
        deadline = time.monotonic() + 60
        # wait until a checkpoint exists and the next one is half-written, then kill
        while time.monotonic() < deadline and not (ckpt.list_checkpoints(d) and glob.glob(os.path.join(d, ".itr_*"))):
            time.sleep(0.001)
        os.kill(p.pid, signal.SIGKILL)
        p.join(10)
        assert p.exitcode == -signal.SIGKILL
        ckpt.remove_stale_temp_files(d)
        assert not glob.glob(os.path.join(d, ".itr_*"))
        state = ckpt.load_checkpoint(ckpt.latest_checkpoint(d))
        assert state["weights"].shape == (4_000_000,)
        assert os.path.basename(ckpt.latest_checkpoint(d)) == ckpt.checkpoint_name(state["itr"])
