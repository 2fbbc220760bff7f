"""NaN/inf stop training without the debug switch, naming the quantity, iteration and env steps (issue 12, defect 2)."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from rlframe.agents.pg import CategoricalPgAgent
from rlframe.algos.finite import check_finite
from rlframe.algos.pg import A2C, PPO
from rlframe.envs.base import EnvSpaces, EnvStep
from rlframe.errors import CheckpointError, NonFiniteError
from rlframe.logging import list_checkpoints, logger_context
from rlframe.logging.checkpoint import load_checkpoint, save_checkpoint
from rlframe.runners import MinibatchRl
from rlframe.samplers.serial import SerialSampler


class NanEnv:
    """Observation (or reward, ``field="reward"``) turns NaN from env step ``after`` on (counted over the env's life)."""

    def __init__(self, after=20, field="observation"):
        self.id = "NanEnv-v0"
        self.spaces = EnvSpaces(observation=gym.spaces.Box(-10, 10, (3,), np.float32), action=gym.spaces.Discrete(2))
        self.after, self.field, self.total, self.t = after, field, 0, 0

    def seed(self, s):
        self.spaces.action.seed(s)

    def _obs(self):
        o = np.array([self.t / 10, 0.5, -0.5], np.float32)
        if self.field == "observation" and self.total >= self.after:
            o[0] = np.nan
        return o

    def reset(self):
        self.t = 0
        return self._obs()

    def step(self, action):
        self.t += 1
        self.total += 1
        r = float("nan") if self.field == "reward" and self.total >= self.after else 1.0
        return EnvStep(self._obs(), r, False, self.t >= 10, None)

    def close(self):
        pass


def test_check_finite_names_quantity_iteration_steps_and_debug():
    check_finite("loss", 1.0, itr=3, batch_size=64)
    check_finite("loss", torch.ones(3), itr=3)
    with pytest.raises(NonFiniteError) as e:
        check_finite("gradient norm", torch.tensor(float("inf")), itr=3, batch_size=64, who="PPO")
    msg = str(e.value)
    assert "PPO: gradient norm is +inf in iteration 3 (env steps 192 to 256)" in msg and "--debug" in msg
    with pytest.raises(NonFiniteError, match="advantage is NaN"):
        check_finite("advantage", np.array([1.0, np.nan]), itr=0)


@pytest.mark.parametrize("algo_cls,field", [(PPO, "observation"), (A2C, "observation"), (PPO, "reward")])
def test_nan_from_env_stops_training_with_finite_weights_and_checkpoints(tmp_path, algo_cls, field):
    sampler = SerialSampler(NanEnv, dict(after=20, field=field), batch_T=4, batch_B=2, max_decorrelation_steps=0)
    agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=[8]))
    algo = algo_cls(**(dict(epochs=2, minibatches=2) if algo_cls is PPO else {}))
    runner = MinibatchRl(algo, agent, sampler, n_steps=200, seed=0, log_interval_steps=8)
    with logger_context(str(tmp_path), name="nan", params={}) as logger:
        with pytest.raises(NonFiniteError) as e:
            runner.train()
        run_dir = logger.run_dir
    msg = str(e.value)
    expected = "reward is NaN" if field == "reward" else "value estimate (agent_info.value) is NaN"
    assert expected in msg and "iteration 4 (env steps 32 to 40)" in msg and "--debug" in msg, msg
    assert all(torch.isfinite(p).all() for p in agent.parameters())
    files = list_checkpoints(f"{run_dir}/checkpoints")
    assert files and all(torch.isfinite(t).all() for t in load_checkpoint(files[-1])["agent_state_dict"].values()
                         if t.is_floating_point())


def test_checkpoint_with_non_finite_weights_is_not_written(tmp_path):
    good = {"agent_state_dict": {"w": torch.ones(2)}, "itr": 0}
    save_checkpoint(good, str(tmp_path), 0)
    bad = {"agent_state_dict": {"w": torch.tensor([1.0, float("nan")])}, "itr": 1}
    with pytest.raises(CheckpointError, match="weight 'w' holds NaN or inf.*previous checkpoints are kept"):
        save_checkpoint(bad, str(tmp_path), 1, keep_last=1)
    assert [p.rsplit("/", 1)[1] for p in list_checkpoints(str(tmp_path))] == ["itr_0000000.pt"]
