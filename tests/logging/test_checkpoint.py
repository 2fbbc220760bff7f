"""Checkpoints: atomic writes, pruning, RNG round trip, spec check naming file, field and shapes."""
import os
import random

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlframe.envs.base import EnvSpaces
from rlframe.errors import CheckpointError, ShapeMismatchError
from rlframe.logging import checkpoint as ckpt


def _specs(obs_shape=(4,), n=2):
    return ckpt.env_specs_json(EnvSpaces(gym.spaces.Box(-1, 1, obs_shape, np.float32), gym.spaces.Discrete(n)))


def test_save_load_round_trip_and_keep_last(tmp_path):
    d = str(tmp_path / "checkpoints")
    for itr in range(5):
        ckpt.save_checkpoint({"itr": itr, "w": torch.ones(3) * itr}, d, itr, keep_last=2)
    files = ckpt.list_checkpoints(d)
    assert [os.path.basename(f) for f in files] == ["itr_0000003.pt", "itr_0000004.pt"]
    state = ckpt.load_checkpoint(str(tmp_path / "checkpoints"))  # a directory picks the newest
    assert state["itr"] == 4 and torch.equal(state["w"], torch.full((3,), 4.0))
    assert state["path"].endswith("itr_0000004.pt")
    assert not [n for n in os.listdir(d) if ".tmp" in n]


def test_failed_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    d = str(tmp_path)
    ckpt.save_checkpoint({"itr": 0}, d, 0)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(CheckpointError, match="disk full"):
        ckpt.save_checkpoint({"itr": 1}, d, 1)
    assert [os.path.basename(p) for p in ckpt.list_checkpoints(d)] == ["itr_0000000.pt"]
    assert os.listdir(d) == ["itr_0000000.pt"]


def test_stale_temp_files_are_ignored_and_removed(tmp_path):
    ckpt.save_checkpoint({"itr": 0}, str(tmp_path), 0)
    (tmp_path / ".itr_0000001.pt.tmp123").write_bytes(b"half a file")
    assert ckpt.latest_checkpoint(str(tmp_path)).endswith("itr_0000000.pt")
    ckpt.remove_stale_temp_files(str(tmp_path))
    assert os.listdir(tmp_path) == ["itr_0000000.pt"]


def test_not_a_checkpoint(tmp_path):
    p = tmp_path / "itr_0000000.pt"
    torch.save({"something": 1}, str(p))
    with pytest.raises(CheckpointError, match="not an rlframe checkpoint"):
        ckpt.load_checkpoint(str(p))
    p.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot be read"):
        ckpt.load_checkpoint(str(p))
    with pytest.raises(CheckpointError, match="does not exist"):
        ckpt.load_checkpoint(str(tmp_path / "missing.pt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        ckpt.load_checkpoint(str(tmp_path / "empty"))


def test_rng_states_round_trip_through_file(tmp_path):
    ckpt.save_checkpoint({"rng": ckpt.get_rng_states()}, str(tmp_path), 0)
    expected = (random.random(), np.random.rand(), torch.rand(()).item())
    state = ckpt.load_checkpoint(str(tmp_path))
    ckpt.set_rng_states(state["rng"])
    assert (random.random(), np.random.rand(), torch.rand(()).item()) == expected


def test_check_specs_names_file_field_and_shapes():
    ckpt.check_specs(_specs(), _specs(), "x.pt")
    with pytest.raises(ShapeMismatchError) as e:
        ckpt.check_specs(_specs((461,)), _specs((365,)), "/runs/a/checkpoints/itr_0000009.pt")
    msg = str(e.value)
    assert "/runs/a/checkpoints/itr_0000009.pt" in msg and "observation" in msg
    assert "(461,)" in msg and "(365,)" in msg
    assert e.value.expected == (461,) and e.value.actual == (365,)
    with pytest.raises(ShapeMismatchError, match="Discrete\\(2\\).*Discrete\\(3\\)"):
        ckpt.check_specs(_specs(n=2), _specs(n=3), "x.pt")


def test_check_specs_nested_dict_space():
    def spaces(k):
        obs = gym.spaces.Dict({"mask": gym.spaces.Box(0, 1, (k,), np.float32),
                               "x": gym.spaces.Box(0, 1, (2,), np.float32)})
        return ckpt.env_specs_json(EnvSpaces(obs, gym.spaces.Discrete(k)))

    with pytest.raises(ShapeMismatchError, match="observation.mask"):
        ckpt.check_specs(spaces(16), spaces(25), "x.pt")


def test_load_agent_checkpoint_checks_specs_first(tmp_path):
    from rlframe.agents.base import BaseAgent

    class Agent(BaseAgent):
        def __init__(self):
            super().__init__(ModelCls=torch.nn.Linear)

        def make_env_to_model_kwargs(self, env_spaces):
            return {"in_features": env_spaces.observation.shape[0], "out_features": 2}

    def spaces(k):
        return EnvSpaces(gym.spaces.Box(-1, 1, (k,), np.float32), gym.spaces.Discrete(2))

    trained = Agent()
    trained.initialize(spaces(461))
    path = ckpt.save_checkpoint({"agent_state_dict": trained.state_dict(), "specs": ckpt.env_specs_json(spaces(461))},
                                str(tmp_path), 5)
    same = Agent()
    same.initialize(spaces(461))
    ckpt.load_agent_checkpoint(same, path)
    torch.testing.assert_close(same.model.weight, trained.model.weight)
    other = Agent()
    other.initialize(spaces(365))
    with pytest.raises(ShapeMismatchError, match=r"itr_0000005\.pt.*\(461,\).*\(365,\)"):
        ckpt.load_agent_checkpoint(other, path)


# --- issue 12, defect 4: a damaged newest checkpoint ------------------------------------------------------
def _three_checkpoints(d):
    from rlframe.logging.checkpoint import save_checkpoint as save

    for itr in range(3):
        save({"agent_state_dict": {"w": torch.full((2,), float(itr))}, "itr": itr, "env_steps": 8 * (itr + 1)},
             str(d), itr)
    return sorted(os.listdir(d))


def test_newest_intact_checkpoint_skips_a_truncated_one_with_a_warning(tmp_path):
    from rlframe.logging.checkpoint import load_newest_intact

    names = _three_checkpoints(tmp_path)
    newest = tmp_path / names[-1]
    newest.write_bytes(newest.read_bytes()[:100])  # truncated
    warnings = []
    state = load_newest_intact(str(tmp_path), warn=warnings.append)
    assert state["itr"] == 1 and state["path"].endswith(names[1])
    assert "skipped checkpoint itr_0000002.pt" in warnings[0] and "damaged" in warnings[0]
    assert "resuming from" in warnings[1] and names[1] in warnings[1]


def test_no_intact_checkpoint_says_so_and_lists_the_files(tmp_path):
    from rlframe.errors import CheckpointError
    from rlframe.logging.checkpoint import load_newest_intact

    names = _three_checkpoints(tmp_path)
    for n in names:
        (tmp_path / n).write_bytes(b"garbage")
    with pytest.raises(CheckpointError) as e:
        load_newest_intact(str(tmp_path))
    msg = str(e.value)
    assert "no intact checkpoint" in msg and all(n in msg for n in names) and "torch.save" not in msg


def test_resume_uses_the_newest_intact_checkpoint(tmp_path, capsys):
    from rlframe.logging import logger_context

    run = tmp_path / "run"
    with logger_context(str(tmp_path), name="x", run_ID=0, params={"a": 1}, use_tensorboard=False) as lg:
        run = lg.run_dir
    names = _three_checkpoints(os.path.join(run, "checkpoints"))
    with open(os.path.join(run, "checkpoints", names[-1]), "r+b") as f:
        f.truncate(50)
    with logger_context(resume=run, use_tensorboard=False) as lg:
        assert lg.resume_state["itr"] == 1
    err = capsys.readouterr().err
    assert "skipped checkpoint itr_0000002.pt" in err
