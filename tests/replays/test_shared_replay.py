"""Replays in shared memory (replays/shared.py): a replay sent to another process is the same replay (that
process's appends and priority updates are seen here, and give the contents a private replay fed the same
batches has), shared stores cannot grow (ConfigError naming the argument), and the replay lock never waits
for good."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from rlframe.core.namedarraytuple import iter_leaves
from rlframe.errors import ConfigError, WorkerError
from rlframe.replays import (PrioritizedReplayBuffer, PrioritizedSequenceReplayBuffer, SequenceReplayBuffer,
                             UniformReplayBuffer)
from rlframe.replays.shared import ReplayLock
from tests.replays.replay_streams import examples, make_stream
from tests.replays.test_sequence import _batch as sequence_batch
from tests.replays.test_sequence import _examples as sequence_examples

B, T = 3, 5


def _uniform(**kw):
    return UniformReplayBuffer(examples(), size=60, B=B, n_step_return=2, seed=1, **kw)


def _prioritized(**kw):
    return PrioritizedReplayBuffer(examples(), size=60, B=B, n_step_return=2, seed=1, **kw)


def _sequence(**kw):
    return SequenceReplayBuffer(sequence_examples(), size=200, B=2, n_step_return=2, seed=1, sequence_length=4,
                                burn_in=3, stride=2, **kw)


def _prioritized_sequence(**kw):
    return PrioritizedSequenceReplayBuffer(sequence_examples(), size=200, B=2, n_step_return=2, seed=1,
                                           sequence_length=4, burn_in=3, stride=2, **kw)


KINDS = {"uniform": _uniform, "prioritized": _prioritized, "sequence": _sequence,
         "prioritized_sequence": _prioritized_sequence}


def _batches(kind):
    if "sequence" in kind:
        return [sequence_batch(10 * k, 10, ends=[(13, 0), (27, 1)], truncs=[(21, 0), (35, 1)]) for k in range(6)]
    stream = make_stream(40, B, seed=3)
    return [stream.batch(t0, T) for t0 in range(0, 35, T)]


def _append_in_child(conn, kind):
    """The sampler process's side: receive the replay over a pipe, append every batch, report."""
    replay = conn.recv()
    for batch in _batches(kind):
        replay.append_samples(batch)
    conn.send("done")
    conn.recv()  # stay alive until the parent has looked


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_appends_in_another_process_land_in_this_replay(kind):
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_append_in_child, args=(child, kind), daemon=True)
    proc.start()
    # built after the fork: nothing inherited, the replay must travel as shared-memory handles
    shared, private = KINDS[kind](shared=True), KINDS[kind]()
    for batch in _batches(kind):
        private.append_samples(batch)
    try:
        parent.send(shared)
        assert parent.poll(60) and parent.recv() == "done"
        assert (shared.t, shared.total, len(shared)) == (private.t, private.total, len(private))
        for (name, a), b in zip(shared.buf._asdict().items(), private.buf):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)
        np.testing.assert_array_equal(shared.valid, private.valid)
        assert len(shared.final_obs) == len(private.final_obs) > 0
        if hasattr(private, "tree"):
            np.testing.assert_array_equal(shared.priorities(), private.priorities())
        # same generator state: the same training batch, n-step targets and final observations included
        a, b = shared.sample_batch(8), private.sample_batch(8)
        for (name, x), (_, y) in zip(iter_leaves(a), iter_leaves(b)):
            torch.testing.assert_close(x, y, msg=name)
        if hasattr(private, "tree"):  # the optimizer's priority updates: seen by both sides (one tree)
            shared.update_batch_priorities(np.arange(8) + 1.0)
            assert shared.max_priority == pytest.approx(8.0)
    finally:
        parent.send("bye")
        proc.join(10)


def test_a_shared_store_cannot_grow_and_says_which_argument_to_raise():
    replay = _uniform(shared=True, final_obs_capacity=2)
    stream = make_stream(40, B, seed=3, p_term=0.0, p_trunc=0.5)
    with pytest.raises(ConfigError, match="final_obs_capacity"):
        for t0 in range(0, 35, T):
            replay.append_samples(stream.batch(t0, T))


@pytest.mark.parametrize("kind", ["uniform", "prioritized"])
def test_a_private_replay_checkpoint_loads_into_a_shared_one(kind):
    private, shared = KINDS[kind](), KINDS[kind](shared=True)
    for batch in _batches(kind):
        private.append_samples(batch)
    shared.load_state_dict(private.state_dict())
    private.load_state_dict(private.state_dict())  # both cut their time lines the same way
    assert len(shared.final_obs) == len(private.final_obs)
    a, b = shared.sample_batch(16), private.sample_batch(16)
    torch.testing.assert_close(a.target_inputs.observation, b.target_inputs.observation)
    torch.testing.assert_close(a.return_, b.return_)


def _hold(lock, seconds):
    with lock.held():
        time.sleep(seconds)


def test_the_replay_lock_times_out_and_checks_the_other_process():
    ctx = mp.get_context("fork")
    lock = ReplayLock(ctx, timeout=0.5)
    holder = ctx.Process(target=_hold, args=(lock, 30), daemon=True)
    holder.start()
    try:
        time.sleep(0.5)  # it has the lock now
        t0 = time.monotonic()
        with pytest.raises(WorkerError, match="stayed taken for 0.5 s"):
            with lock.held("sampling a batch"):
                pass
        assert time.monotonic() - t0 < 2

        def peer_check():
            if not holder.is_alive():
                raise WorkerError("the sampler process died")

        lock.timeout, lock.peer_check = 60.0, peer_check
        holder.kill()  # dies holding the lock: the waiter learns it from the liveness check, not the timeout
        t0 = time.monotonic()
        with pytest.raises(WorkerError, match="died"):
            with lock.held():
                pass
        assert time.monotonic() - t0 < 2
    finally:
        holder.kill()
        holder.join(5)
