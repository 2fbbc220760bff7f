"""AsyncRl / AsyncRlEval: a replay algorithm trains from the shared replay while the sampler process appends
to it, at its replay ratio; DQN, R2D1 (sequence replay), DDPG/TD3/SAC; wrong samplers and on-policy algorithms
are refused; the replay-based scripts take --runner async (with --sampler serial | cpu | gpu)."""
import csv
import glob
import sys

import pytest
import torch

from rlframe.errors import ConfigError
from rlframe.runners import MinibatchRlEval
from rlframe.runners.async_rl import AsyncRl, AsyncRlEval
from tests.samplers.parallel.conftest import worker_processes
from tests.test_experiments import _script


def _dqn(Sampler, n_workers=1):
    from rlframe.agents.dqn import DqnAgent
    from rlframe.algos.dqn import DQN
    from rlframe.envs.gym import GymEnv

    kw = {} if Sampler.__name__ == "SerialSampler" else {"n_workers": n_workers}
    sampler = Sampler(EnvCls=GymEnv, env_kwargs=dict(id="CartPole-v1"), batch_T=8, batch_B=2, eval_n_envs=1,
                      eval_max_trajectories=1, eval_max_steps=100, **kw)
    agent = DqnAgent(model_kwargs=dict(hidden_sizes=[16]))
    algo = DQN(batch_size=16, min_steps_learn=64, replay_size=2000, replay_ratio=0.5)
    return algo, agent, sampler


def test_async_dqn_trains_at_its_replay_ratio(tmp_path):
    from rlframe.logging import logger_context
    from rlframe.samplers.async_ import AsyncCpuSampler

    algo, agent, sampler = _dqn(AsyncCpuSampler, n_workers=2)
    runner = AsyncRlEval(algo, agent, sampler, n_steps=640, seed=0, log_interval_steps=160)
    with logger_context(str(tmp_path), name="a", run_ID=0):
        result = runner.train()
    assert result["time/env_steps"] == 640
    # no update until min_steps_learn (64) are stored; from the batch that stores them on (env steps 48-64),
    # one update per 2 env steps
    assert runner.updates == int(0.5 * (640 - 48))
    with open(glob.glob(str(tmp_path / "a" / "run_0" / "progress.csv"))[0]) as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["async/updates_per_step"]) == pytest.approx(0.5)
    for tag in ("async/wait_s", "async/sampler_wait_s", "async/lock_wait_s"):
        assert float(rows[-1][tag]) >= 0.0
    assert runner.algo.replay.shared and runner.algo.replay.total >= 640 // 2  # appended by the sampler process
    assert "eval/return_mean" in rows[-1]
    assert not worker_processes()  # the sampler processes are gone


def test_async_rl_refuses_a_synchronous_sampler_and_an_on_policy_algorithm():
    from rlframe.agents.pg import CategoricalPgAgent
    from rlframe.algos.pg import PPO
    from rlframe.samplers.async_ import AsyncSerialSampler
    from rlframe.samplers.serial import SerialSampler

    algo, agent, sampler = _dqn(SerialSampler)
    with pytest.raises(ConfigError, match="asynchronous sampler"):
        AsyncRl(algo, agent, sampler, n_steps=100)
    _, _, sampler = _dqn(AsyncSerialSampler)
    runner = AsyncRl(PPO(), CategoricalPgAgent(model_kwargs=dict(hidden_sizes=[8])), sampler, n_steps=100)
    with pytest.raises(ConfigError, match="keeps no replay"):
        runner.train()
    assert not worker_processes()


def test_scripts_take_runner_async(tmp_path):
    mod = _script("cartpole_dqn")
    assert mod.main(["--runner", "async", "--steps", "1536", "--log-dir", str(tmp_path)]) == 0
    run = tmp_path / "cartpole_dqn" / "run_0"
    with open(run / "progress.csv") as f:
        assert "async/updates_per_step" in next(csv.DictReader(f))
    assert torch.load(glob.glob(str(run / "checkpoints" / "*.pt"))[-1], weights_only=False)["runner"] == "AsyncRlEval"
    assert MinibatchRlEval is not AsyncRlEval


def _qpg(kind):
    from rlframe.agents.qpg import SacAgent, Td3Agent
    from rlframe.algos.qpg import DDPG, SAC, TD3
    from rlframe.envs.gym import GymEnv
    from rlframe.samplers.async_ import AsyncGpuSampler

    sampler = AsyncGpuSampler(EnvCls=GymEnv, env_kwargs=dict(id="Pendulum-v1"), batch_T=4, batch_B=2, n_workers=1,
                              eval_n_envs=1, eval_max_trajectories=1, eval_max_steps=50)
    nets = dict(model_kwargs=dict(hidden_sizes=[8]), q_model_kwargs=dict(hidden_sizes=[8]))
    common = dict(batch_size=8, min_steps_learn=32, replay_size=400)
    if kind == "sac":
        return SAC(**common), SacAgent(**nets), sampler
    return (TD3 if kind == "td3" else DDPG)(**common), Td3Agent(**nets), sampler


@pytest.mark.parametrize("kind", ["sac", "td3", "ddpg"])
def test_async_qpg_with_the_gpu_sampler_trains_at_one_update_per_env_step(kind):
    algo, agent, sampler = _qpg(kind)
    runner = AsyncRlEval(algo, agent, sampler, n_steps=96, seed=0, log_interval_steps=48)
    runner.train()
    assert runner.updates == 96 - 32 + 8  # one per env step from the batch that stores min_steps_learn on
    assert not worker_processes()


def test_async_r2d1_samples_sequences_the_sampler_process_stored(tmp_path):
    mod = _script("pomdp_r2d1")
    assert mod.main(["--runner", "async", "--steps", "2560", "--log-dir", str(tmp_path)]) == 0
    with open(tmp_path / "pomdp_r2d1" / "run_0" / "progress.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["time/updates"]) > 0
    assert not worker_processes()


@pytest.mark.parametrize("sampler, cls", [("serial", "AsyncSerialSampler"), ("cpu", "AsyncCpuSampler"),
                                          ("gpu", "AsyncGpuSampler")])
def test_scripts_pick_the_async_counterpart_of_the_sampler(sampler, cls):
    sys.path.insert(0, "experiments")
    from common import choose_async_sampler

    assert choose_async_sampler(sampler, None)[0].__name__ == cls
    assert choose_async_sampler("serial", 3)[0].__name__ == "AsyncCpuSampler"  # --workers 3: env workers
    with pytest.raises(ConfigError, match="--runner async has no alternating sampler"):
        choose_async_sampler("alternating", 2)


def test_async_run_with_save_replay_resumes_with_the_replay(tmp_path, capsys):
    mod = _script("cartpole_dqn")
    assert mod.main(["--runner", "async", "--steps", "1024", "--save-replay", "--log-dir", str(tmp_path)]) == 0
    run = tmp_path / "cartpole_dqn" / "run_0"
    capsys.readouterr()
    assert mod.main(["--resume", str(run), "--steps", "1536"]) == 0
    out = capsys.readouterr()
    assert "Replay restored from" in out.out + out.err  # into the shared replay, before the sampler process appends
    with open(run / "progress.csv") as f:
        assert int(float(list(csv.DictReader(f))[-1]["time/env_steps"])) == 1536
    assert not worker_processes()
