"""SyncRl over gloo with 2 ranks spawned by torch.multiprocessing: identical weights after updates (PPO's
closed-form gradients and DQN's plain optimizer step), the aggregated env-step axis, and a dead rank ending
the other with a WorkerError well within a minute."""
import csv
import os
import socket
import time

import pytest
import torch
import torch.multiprocessing as mp

from rlframe.core import distributed as dist

WORLD = 2


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ppo_parts():
    from rlframe.agents.pg import CategoricalPgAgent
    from rlframe.algos.pg import PPO
    from rlframe.envs.gym import GymEnv
    from rlframe.samplers.serial import SerialSampler

    sampler = SerialSampler(EnvCls=GymEnv, env_kwargs=dict(id="CartPole-v1"), batch_T=16, batch_B=2,
                            eval_n_envs=1, eval_max_trajectories=1, eval_max_steps=50)
    agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=[16]))
    algo = PPO(learning_rate=1e-3, epochs=2, minibatches=2)
    return algo, agent, sampler


def _dqn_parts():
    from rlframe.agents.dqn import DqnAgent
    from rlframe.algos.dqn import DQN
    from rlframe.envs.gym import GymEnv
    from rlframe.samplers.serial import SerialSampler

    sampler = SerialSampler(EnvCls=GymEnv, env_kwargs=dict(id="CartPole-v1"), batch_T=4, batch_B=2,
                            eval_n_envs=1, eval_max_trajectories=1, eval_max_steps=50)
    agent = DqnAgent(model_kwargs=dict(hidden_sizes=[16]))
    algo = DQN(batch_size=16, min_steps_learn=32, replay_size=1000, replay_ratio=1.0)
    return algo, agent, sampler


def _rank_main(rank, port, which, log_dir, out_dir, die_after_itr, timeout_s, resume):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from rlframe.errors import WorkerError
    from rlframe.logging import logger_context
    from rlframe.runners.sync_rl import SyncRlEval

    algo, agent, sampler = (_ppo_parts if which == "ppo" else _dqn_parts)()
    if die_after_itr is not None and rank == 1:
        optimize = algo.optimize_agent

        def optimize_then_die(itr, samples):  # a rank that vanishes without a word (no exception, no clean-up)
            if itr > die_after_itr:
                os._exit(17)
            return optimize(itr, samples)
        algo.optimize_agent = optimize_then_die
    runner = SyncRlEval(algo, agent, sampler, n_steps=384 if resume else 256, seed=3, log_interval_steps=64,
                        dist_env=dist.DistEnv(rank, WORLD, rank), dist_timeout_s=timeout_s)
    t0 = time.monotonic()
    try:
        with logger_context(log_dir, name="sync", run_ID=None if resume else 0,
                            resume=os.path.join(log_dir, "sync", "run_0") if resume else None):
            runner.train()
    except WorkerError as e:
        torch.save({"error": str(e), "seconds": time.monotonic() - t0}, os.path.join(out_dir, f"rank{rank}.pt"))
        raise SystemExit(3)
    weights = {k: v.clone() for k, v in agent.state_dict().items()}
    torch.save({"weights": weights, "env_steps": runner.env_steps, "updates": runner.updates},
               os.path.join(out_dir, f"rank{rank}.pt"))


def _spawn(tmp_path, which, die_after_itr=None, timeout_s=30.0, join_s=240, resume=False):
    ctx = mp.get_context("spawn")
    port = _free_port()
    procs = [ctx.Process(target=_rank_main, args=(r, port, which, str(tmp_path / "runs"), str(tmp_path),
                                                  die_after_itr, timeout_s, resume)) for r in range(WORLD)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join(timeout=max(1.0, join_s - (time.monotonic() - t0)))
        assert not any(p.is_alive() for p in procs), "a rank hung"
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    return [p.exitcode for p in procs], time.monotonic() - t0


@pytest.mark.parametrize("which", ["ppo", "dqn"])
def test_two_gloo_ranks_hold_identical_weights_and_count_all_env_steps(tmp_path, which):
    exitcodes, _ = _spawn(tmp_path, which)
    assert exitcodes == [0, 0]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD))
    assert r0["updates"] == r1["updates"] > 0
    for k in r0["weights"]:
        assert torch.equal(r0["weights"][k], r1["weights"][k]), k
    # 256 env steps over both ranks: 2 ranks x (T x B) per iteration
    local = 16 * 2 if which == "ppo" else 4 * 2
    assert r0["env_steps"] == r1["env_steps"] == 256 == -(-256 // (WORLD * local)) * WORLD * local
    run_dir = tmp_path / "runs" / "sync" / "run_0"
    with open(run_dir / "progress.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["time/env_steps"]) for r in rows] == [0.0, 64.0, 128.0, 192.0, 256.0]
    # one run directory (rank 0's); eval episodes of both ranks (1 each) gathered
    assert sorted(os.listdir(tmp_path / "runs" / "sync")) == ["run_0"]
    assert float(rows[-1]["eval/episodes"]) == 2.0
    assert len([f for f in os.listdir(run_dir) if f.startswith("events.out.tfevents")]) == 1
    if which == "dqn":
        return
    # resume to 384 steps: rank 1 gets rank 0's checkpoint, the weights stay identical, the rows continue
    assert _spawn(tmp_path, which, resume=True)[0] == [0, 0]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD))
    assert r0["env_steps"] == r1["env_steps"] == 384
    assert r0["updates"] == r1["updates"] > 0
    for k in r0["weights"]:
        assert torch.equal(r0["weights"][k], r1["weights"][k]), k
    with open(run_dir / "progress.csv") as f:
        assert [float(r["time/env_steps"]) for r in csv.DictReader(f)] == [0.0, 64.0, 128.0, 192.0, 256.0, 320.0,
                                                                             384.0]


def test_a_rank_that_dies_ends_the_other_with_a_worker_error_within_the_timeout(tmp_path):
    exitcodes, seconds = _spawn(tmp_path, "ppo", die_after_itr=1, timeout_s=10.0, join_s=90)
    assert exitcodes[1] == 17
    assert exitcodes[0] == 3, exitcodes
    report = torch.load(tmp_path / "rank0.pt")
    assert "lost the other ranks" in report["error"] and "--dist-timeout" in report["error"]
    assert report["seconds"] < 60.0
    assert seconds < 90.0


def _out_of_step_main(rank, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    from rlframe.errors import WorkerError

    dist.init_process_group(dist.DistEnv(rank, WORLD, rank), timeout_s=20)
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.1)
    dist.make_data_parallel(opt)
    w.grad = torch.full((3,), float(rank))
    opt.step()  # step 1 on both: the mean gradient 0.5
    result = {"w_after_1": w.detach().clone()}
    if rank == 1:
        opt._rlframe_steps += 1  # as if rank 1 had taken a step of its own
    w.grad = torch.ones(3)
    try:
        opt.step()
        result["error"] = None
    except WorkerError as e:
        result["error"] = str(e)
    torch.save(result, os.path.join(out_dir, f"step{rank}.pt"))
    dist.destroy_process_group()


def test_ranks_out_of_step_are_an_error_not_a_silent_mix(tmp_path):
    ctx = mp.get_context("spawn")
    port = _free_port()
    procs = [ctx.Process(target=_out_of_step_main, args=(r, port, str(tmp_path))) for r in range(WORLD)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0, 0]
    for r in range(WORLD):
        res = torch.load(tmp_path / f"step{r}.pt")
        assert torch.allclose(res["w_after_1"], torch.full((3,), 1 - 0.1 * 0.5))
        assert res["error"] is not None and "out of step" in res["error"]


def test_torchrun_env_is_read_from_the_variables(monkeypatch):
    for v in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(v, raising=False)
    assert dist.torchrun_env() is None
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    assert dist.torchrun_env() == dist.DistEnv(3, 4, 1)


def test_sync_rl_outside_torchrun_says_how_to_launch(monkeypatch):
    from rlframe.errors import ConfigError
    from rlframe.runners import SyncRl

    monkeypatch.delenv("RANK", raising=False)
    algo, agent, sampler = _ppo_parts()
    with pytest.raises(ConfigError, match="torchrun"):
        SyncRl(algo, agent, sampler, n_steps=10)
