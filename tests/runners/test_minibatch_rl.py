"""MinibatchRl / MinibatchRlEval against small fakes: loop, counters, logging, checkpoints, resume."""
import csv
import json
import os
from collections import namedtuple

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlframe.agents.base import BaseAgent
from rlframe.algos.base import RlAlgorithm
from rlframe.envs.base import EnvSpaces
from rlframe.errors import ShapeMismatchError
from rlframe.logging import list_checkpoints, logger_context
from rlframe.runners import MinibatchRl, MinibatchRlEval
from rlframe.samplers.base import BaseSampler, TrajInfo


class LinearModel(torch.nn.Module):
    def __init__(self, obs_dim, n_actions):
        super().__init__()
        self.fc = torch.nn.Linear(obs_dim, n_actions)

    def forward(self, x):
        return self.fc(x)


class FakeAgent(BaseAgent):
    def __init__(self):
        super().__init__(ModelCls=LinearModel)
        self.loaded = 0

    def make_env_to_model_kwargs(self, env_spaces):
        return {"obs_dim": env_spaces.observation.shape[0], "n_actions": int(env_spaces.action.n)}

    def load_state_dict(self, state_dict):
        self.loaded += 1
        super().load_state_dict(state_dict)


class FakeSampler(BaseSampler):
    """Samples are drawn from torch's global generator, so resumed runs depend on restored RNG states."""

    def __init__(self, obs_dim=4, batch_T=4, batch_B=2, eval_n_envs=0, fail_at_itr=None):
        super().__init__(EnvCls=None, batch_T=batch_T, batch_B=batch_B, eval_n_envs=eval_n_envs,
                         eval_max_trajectories=2 if eval_n_envs else None,
                         eval_max_steps=100 if eval_n_envs else None)
        self.obs_dim = obs_dim
        self.fail_at_itr = fail_at_itr
        self.shutdowns = 0
        self.init_kwargs = None

    def initialize(self, agent, affinity=None, seed=None, bootstrap_value=False, traj_info_kwargs=None,
                   rank=0, world_size=1, final_observation=False):
        self.init_kwargs = dict(affinity=affinity, seed=seed, bootstrap_value=bootstrap_value,
                                traj_info_kwargs=traj_info_kwargs)
        spaces = EnvSpaces(gym.spaces.Box(-1, 1, (self.obs_dim,), np.float32), gym.spaces.Discrete(2))
        agent.initialize(spaces, global_B=self.batch_spec.B)
        return {"observation": np.zeros(self.obs_dim, np.float32)}

    def obtain_samples(self, itr):
        if itr == self.fail_at_itr:
            raise RuntimeError("env exploded")
        samples = torch.randn(self.batch_spec.T, self.batch_spec.B, self.obs_dim)
        t = TrajInfo()
        t.Return, t.Length, t.proxy_cost, t.custom = float(itr), 10, 0.5 + itr, 2.0
        return samples, [t]

    def evaluate_agent(self, itr):
        t = TrajInfo()
        t.Return, t.Length = 42.0, 7
        return [t, t]

    def shutdown(self):
        self.shutdowns += 1


OptInfo = namedtuple("OptInfo", ["loss", "grad_norm"])


class FakeAlgo(RlAlgorithm):
    bootstrap_value = True
    discount = 0.9

    def initialize(self, agent, n_itr, batch_spec, mid_batch_reset=False, examples=None, world_size=1, rank=0):
        self.agent, self.n_itr = agent, n_itr
        self.optimizer = torch.optim.Adam(agent.parameters(), lr=1e-2)
        self.update_counter = 0

    def optimize_agent(self, itr, samples):
        info = OptInfo([], [])
        for _ in range(3):
            self.optimizer.zero_grad()
            loss = (self.agent.model(samples) ** 2).mean() + 0.01 * torch.randn(()).abs()
            loss.backward()
            self.optimizer.step()
            self.update_counter += 1
            info.loss.append(loss.item())
            info.grad_norm.append(1.0)
        return info


def _make(n_steps=64, obs_dim=4, runner_cls=MinibatchRl, **kw):
    sampler = FakeSampler(obs_dim=obs_dim, eval_n_envs=1 if runner_cls is MinibatchRlEval else 0,
                          fail_at_itr=kw.pop("fail_at_itr", None))
    agent, algo = FakeAgent(), FakeAlgo()
    runner = runner_cls(algo, agent, sampler, n_steps=n_steps, seed=kw.pop("seed", 3),
                        log_interval_steps=kw.pop("log_interval_steps", 16), **kw)
    return runner


def _rows(run_dir):
    with open(os.path.join(run_dir, "progress.csv")) as f:
        return list(csv.DictReader(f))


def test_train_counts_logs_and_checkpoints(tmp_path, capsys):
    runner = _make(n_steps=60)  # batch 8 -> 8 iterations (rounded up), log every 2
    with logger_context(str(tmp_path), run_ID=0, name="fake", params={"lr": 1e-2, "cls": FakeAlgo}) as logger:
        result = runner.train()
    run_dir = logger.run_dir
    assert runner.itr == 7 and runner.env_steps == 64 and runner.updates == 24
    assert runner.sampler.shutdowns == 1
    init = runner.sampler.init_kwargs
    assert init["seed"] == 3 and init["bootstrap_value"] is True and init["traj_info_kwargs"] == {"discount": 0.9}
    rows = _rows(run_dir)
    assert [int(float(r["time/env_steps"])) for r in rows] == [16, 32, 48, 64]
    assert float(rows[-1]["time/updates"]) == 24
    assert float(rows[-1]["rollout/episodes"]) == 2
    assert "train/loss" in rows[0] and "placement/proxy_cost" in rows[0] and "rollout/custom" in rows[0]
    assert result["time/env_steps"] == 64
    params = json.load(open(os.path.join(run_dir, "params.json")))
    assert params["cls"].endswith("FakeAlgo") and params["lr"] == 1e-2
    assert len(list_checkpoints(os.path.join(run_dir, "checkpoints"))) == 3  # keep_checkpoints default
    out = capsys.readouterr().out
    assert "steps" in out and "SPS" in out and "ETA" in out and "tensorboard --logdir" in out


def test_eval_runner_evaluates_at_start_and_each_interval(tmp_path):
    runner = _make(n_steps=32, runner_cls=MinibatchRlEval)
    with logger_context(str(tmp_path), run_ID=0, name="fake") as logger:
        result = runner.train()
    rows = _rows(logger.run_dir)
    assert [int(float(r["time/env_steps"])) for r in rows] == [0, 16, 32]
    assert all(float(r["eval/return_mean"]) == 42.0 for r in rows)
    assert result["eval/return_mean"] == 42.0 and result["eval/length_mean"] == 7.0


def test_tensorboard_tags_use_env_steps(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runner = _make(n_steps=32, runner_cls=MinibatchRlEval)
    with logger_context(str(tmp_path), run_ID=0, name="fake", params={"a": 1}) as logger:
        runner.train()
    acc = EventAccumulator(logger.run_dir)
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for tag in ["rollout/return_mean", "rollout/length_mean", "rollout/episodes", "eval/return_mean",
                "eval/length_mean", "time/sps", "time/env_steps", "time/sample_s", "time/optimize_s",
                "train/loss", "train/grad_norm", "placement/proxy_cost"]:
        assert tag in tags, tag
    assert [e.step for e in acc.Scalars("train/loss")] == [16, 32]
    assert [e.step for e in acc.Scalars("eval/return_mean")] == [0, 16, 32]
    assert "params" in "".join(acc.Tags().get("tensors", []))


def test_sampler_shut_down_when_training_raises(tmp_path):
    runner = _make(n_steps=64, fail_at_itr=2)
    with pytest.raises(RuntimeError, match="env exploded"):
        runner.train()
    assert runner.sampler.shutdowns == 1


def test_resume_continues_counters_optimizer_and_rng(tmp_path):
    # uninterrupted reference run
    ref = _make(n_steps=64)
    with logger_context(str(tmp_path), run_ID="ref", name="fake"):
        ref.train()
    # same run stopped at 32 steps, then resumed to 64
    first = _make(n_steps=32)
    with logger_context(str(tmp_path), run_ID="split", name="fake") as logger:
        first.train()
    run_dir = logger.run_dir
    second = _make(n_steps=64, seed=999)  # the checkpoint's seed wins on resume
    with logger_context(resume=run_dir):
        second.train()
    assert second.itr == 7 and second.env_steps == 64 and second.updates == 24
    assert second.seed == 3
    for a, b in zip(ref.agent.model.parameters(), second.agent.model.parameters()):
        torch.testing.assert_close(a, b)
    assert [int(float(r["time/env_steps"])) for r in _rows(run_dir)] == [16, 32, 48, 64]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(run_dir)
    acc.Reload()
    assert [e.step for e in acc.Scalars("time/env_steps")] == [16, 32, 48, 64]


def test_resume_after_kill_drops_rows_after_last_checkpoint(tmp_path):
    runner = _make(n_steps=64)
    with logger_context(str(tmp_path), run_ID=0, name="fake", keep_checkpoints=None) as logger:
        runner.train()
    ckpts = list_checkpoints(os.path.join(logger.run_dir, "checkpoints"))
    assert len(ckpts) == 4
    for p in ckpts[2:]:  # as if killed right after logging 64 steps... before the 48-step checkpoint
        os.remove(p)
    resumed = _make(n_steps=64)
    with logger_context(resume=logger.run_dir):
        resumed.train()
    assert resumed.env_steps == 64
    assert [int(float(r["time/env_steps"])) for r in _rows(logger.run_dir)] == [16, 32, 48, 64]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(logger.run_dir)
    acc.Reload()
    assert [e.step for e in acc.Scalars("time/env_steps")] == [16, 32, 48, 64]


def test_resume_into_env_with_other_shape_fails_before_load(tmp_path):
    runner = _make(n_steps=16, obs_dim=461)
    with logger_context(str(tmp_path), run_ID=0, name="fake") as logger:
        runner.train()
    other = _make(n_steps=32, obs_dim=365)
    with pytest.raises(ShapeMismatchError) as e:
        with logger_context(resume=logger.run_dir):
            other.train()
    msg = str(e.value)
    assert "461" in msg and "365" in msg and "observation" in msg and "itr_0000001.pt" in msg
    assert other.agent.loaded == 0  # failed before load_state_dict
    assert other.sampler.shutdowns == 1


def test_affinity_dict_sets_torch_threads():
    before = torch.get_num_threads()
    try:
        runner = _make(n_steps=8, affinity={"master_torch_threads": 1, "workers_cpus": [0]})
        runner.train()
        assert torch.get_num_threads() == 1
        assert runner.sampler.init_kwargs["affinity"]["master_torch_threads"] == 1
    finally:
        torch.set_num_threads(before)


def test_runs_without_logger_context(capsys):
    runner = _make(n_steps=16)
    result = runner.train()
    assert result["time/env_steps"] == 16
    assert "SPS" in capsys.readouterr().out


def test_resume_without_new_steps_does_nothing(tmp_path, capsys):
    runner = _make(n_steps=16)
    with logger_context(str(tmp_path), run_ID=0, name="fake") as logger:
        runner.train()
    again = _make(n_steps=16)
    with logger_context(resume=logger.run_dir):
        result = again.train()
    assert result["time/env_steps"] == 16 and again.agent.loaded == 1
    assert "Nothing to do" in capsys.readouterr().out


def test_callback_can_stop_training_and_read_new_episodes(tmp_path):
    seen = []

    def stop_after_second_row(runner, itr, values):
        seen.append(len(runner.new_traj_infos))
        if len(seen) == 2:
            runner.stop()

    runner = _make(n_steps=64, callbacks=[stop_after_second_row])
    with logger_context(str(tmp_path), run_ID=0, name="fake") as logger:
        runner.train()
    assert runner.env_steps == 32 and len(_rows(logger.run_dir)) == 2  # stopped after the second interval
    assert seen == [2, 2] and runner.sampler.shutdowns == 1  # the fake sampler ends one episode per itr


def test_default_torch_threads_is_one():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        _make(n_steps=8).train()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
