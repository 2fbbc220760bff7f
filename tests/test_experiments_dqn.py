"""The DQN-family launch scripts: short runs log their tags, checkpoints of another env fail with both shapes,
Atari runs a few hundred steps (when ale-py is installed); the full CartPole run is marked slow."""
import csv
import json
import os

import pytest

from tests.test_experiments import _script  # puts experiments/ on sys.path


def _last_row(run_dir):
    with open(os.path.join(run_dir, "progress.csv")) as f:
        return list(csv.DictReader(f))[-1]


@pytest.mark.parametrize("name", ["cartpole_dqn", "cartpole_c51"])
def test_short_run_logs_dqn_tags(name, tmp_path, capsys):
    assert _script(name).main(["--steps", "1536", "--log-dir", str(tmp_path), "--seed", "1"]) == 0
    row = _last_row(os.path.join(str(tmp_path), name, "run_0"))
    assert float(row["time/env_steps"]) == 1536
    assert float(row["time/updates"]) == pytest.approx(0.5 * (1536 - 768))  # learning from the 4th batch on
    for tag in ["train/loss", "train/q_mean", "train/td_abs_mean", "train/grad_norm", "eval/return_mean"]:
        assert row[tag] not in ("", "nan"), tag
    assert "Final: 1,536 env steps" in capsys.readouterr().out


def test_dqn_checkpoint_of_other_env_fails_before_load_with_both_shapes(tmp_path):
    """A DQN run trained on a 461-dim env, resumed on a 365-dim one: ShapeMismatchError naming the checkpoint."""
    import shape_bad_env  # noqa: F401  (registers the envs)
    from rlframe.errors import ShapeMismatchError
    from rlframe.logging import RunLogger

    dqn = _script("cartpole_dqn")
    assert dqn.main(["--steps", "256", "--env", "shape_bad_env:Good461-v0", "--log-dir", str(tmp_path)]) == 0
    run_dir = os.path.join(str(tmp_path), "cartpole_dqn", "run_0")
    params = RunLogger.saved_params(run_dir)
    params["env"] = "shape_bad_env:Good365-v0"  # as if someone edited the config
    with open(os.path.join(run_dir, "params.json"), "w") as f:
        json.dump(params, f)
    with pytest.raises(ShapeMismatchError) as e:
        dqn.main(["--resume", run_dir, "--steps", "512"])
    msg = str(e.value)
    assert "itr_0000000.pt" in msg and "(461,)" in msg and "(365,)" in msg


def test_dqn_weights_of_other_env_fail_with_both_shapes():
    """Initial weights saved for a 461-dim observation, loaded into an agent built for 365 dims."""
    import gymnasium as gym
    import numpy as np

    from rlframe.agents.dqn import DqnAgent
    from rlframe.envs.base import EnvSpaces
    from rlframe.errors import ShapeMismatchError

    def spaces(n):
        return EnvSpaces(observation=gym.spaces.Box(-1, 1, (n,), np.float32), action=gym.spaces.Discrete(2))

    src = DqnAgent()
    src.initialize(spaces(461))
    with pytest.raises(ShapeMismatchError) as e:
        DqnAgent(initial_model_state_dict=src.state_dict()).initialize(spaces(365))
    msg = str(e.value)
    assert "DqnAgent" in msg and "DqnMlpModel" in msg and "(256, 461)" in msg and "(256, 365)" in msg


def test_atari_dqn_runs_a_few_hundred_steps(tmp_path, monkeypatch):
    pytest.importorskip("ale_py")
    atari = _script("atari_dqn")
    build = atari.build_config

    def small(args):  # the script's wiring, with a replay, warm-up and evaluation sized for a test
        config = build(args)
        config["algo"].update(replay_size=1024, min_steps_learn=192, batch_size=8)
        config["eval"] = dict(n_envs=1, max_trajectories=1, max_steps=32)
        config.update(batch_B=2, log_interval_steps=128)
        return config

    monkeypatch.setattr(atari, "build_config", small)
    assert atari.main(["--steps", "320", "--log-dir", str(tmp_path), "--env", "ALE/Breakout-v5"]) == 0
    run_dir = os.path.join(str(tmp_path), "atari_dqn", "run_0")
    row = _last_row(run_dir)
    assert float(row["time/env_steps"]) == 320
    # learning starts in the batch that reaches min_steps_learn (env steps 184..192): 0.25 updates per step after
    assert float(row["time/updates"]) == pytest.approx(0.25 * (320 - 184))
    assert float(row["train/loss"]) >= 0
    params = json.load(open(os.path.join(run_dir, "params.json")))
    assert params["algo"]["frame_replay"] and params["model"]["dueling"]


@pytest.mark.slow
def test_cartpole_dqn_defaults_reach_475(tmp_path, capsys):
    assert _script("cartpole_dqn").main(["--log-dir", str(tmp_path), "--seed", "0"]) == 0
    assert float(_last_row(os.path.join(str(tmp_path), "cartpole_dqn", "run_0"))["eval/return_mean"]) >= 475
    assert "target 475: reached" in capsys.readouterr().out


def test_dqn_checkpoint_holds_the_target_network_and_resume_continues(tmp_path):
    import torch

    dqn = _script("cartpole_dqn")
    assert dqn.main(["--steps", "1280", "--log-dir", str(tmp_path)]) == 0
    run_dir = os.path.join(str(tmp_path), "cartpole_dqn", "run_0")
    ckpt = torch.load(os.path.join(run_dir, "checkpoints", "itr_0000004.pt"), weights_only=False)
    target = ckpt["algo_state_dict"]["target_model"]
    online = ckpt["agent_state_dict"]
    assert set(target) == set(online) and ckpt["algo_state_dict"]["env_steps"] == 1280
    # without --save-replay the replay starts empty: learning resumes once it holds min_steps_learn (1000) steps
    assert dqn.main(["--resume", run_dir, "--steps", "2560"]) == 0
    rows = list(csv.DictReader(open(os.path.join(run_dir, "progress.csv"))))
    assert float(rows[-1]["time/env_steps"]) == 2560
    assert float(rows[-1]["time/updates"]) == 256 + 256  # 2 x 128 updates before the stop, 2 x 128 after
