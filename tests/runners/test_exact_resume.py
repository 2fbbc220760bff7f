"""Exact resume: a SerialSampler run (PPO and DQN on CartPole-v1; recurrent PPO and R2D1 on
rlframe/CartPolePOMDP-v1; SAC on Pendulum-v1) stopped after a checkpoint and resumed writes the progress.csv rows and
TensorBoard values of the uninterrupted run, for every column except the wall-clock ones
(``rlframe.logging.progress.WALL_CLOCK_COLUMNS``: time/sps, time/sample_s, time/optimize_s, time/eval_s,
time/elapsed_s - they time the run, so they differ between any two runs of the same config).

Each comparison is also run with one piece of state dropped on resume (env states, the collector's carried
state, the RNG states, the agent's recurrent state, the replay's continuing time lines), and must then fail:
the comparison is sensitive to every piece.
"""
import contextlib
import csv
import os
import time
import warnings

import numpy as np
import pytest
import torch

from rlframe.agents.dqn import DqnAgent
from rlframe.agents.pg import CategoricalPgAgent, RecurrentCategoricalPgAgent
from rlframe.algos.dqn import DQN
from rlframe.algos.pg import PPO
from rlframe.envs import GymEnv
from rlframe.errors import EnvStateError, ResumeWarning
from rlframe.logging import checkpoint as ckpt
from rlframe.logging import logger_context
from rlframe.logging.progress import WALL_CLOCK_COLUMNS
from rlframe.runners import MinibatchRl, MinibatchRlEval
from rlframe.samplers.collectors import BaseCollector
from rlframe.samplers.serial import SerialSampler


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):  # tests/conftest.py
    yield


def _sampler(env_id="CartPole-v1", T=16, B=4):
    return SerialSampler(GymEnv, dict(id=env_id), batch_T=T, batch_B=B, max_decorrelation_steps=20,
                         eval_n_envs=2, eval_max_steps=300, eval_max_trajectories=2)


def _ppo(n_steps, callbacks=()):
    agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=[16]))
    algo = PPO(epochs=2, minibatches=2, learning_rate=3e-3, linear_lr_schedule=True)
    return MinibatchRlEval(algo, agent, _sampler(), n_steps, seed=5, log_interval_steps=64, callbacks=callbacks)


def _recurrent_ppo(n_steps, callbacks=()):
    agent = RecurrentCategoricalPgAgent(model_kwargs=dict(fc_sizes=[], lstm_size=8, head_sizes=[8]))
    algo = PPO(epochs=2, minibatches=1, learning_rate=3e-3)
    return MinibatchRl(algo, agent, _sampler("rlframe/CartPolePOMDP-v1"), n_steps, seed=6, log_interval_steps=64,
                       callbacks=callbacks)


def _dqn(n_steps, callbacks=()):
    agent = DqnAgent(model_kwargs=dict(hidden_sizes=[16]), eps_init=1.0, eps_final=0.05, eps_steps=256)
    algo = DQN(batch_size=16, replay_size=1024, min_steps_learn=96, replay_ratio=0.25, target_update_interval=64,
               learning_rate=1e-3, double_dqn=True)
    return MinibatchRlEval(algo, agent, _sampler(T=16, B=2), n_steps, seed=7, log_interval_steps=64,
                           callbacks=callbacks, save_replay=True)


def _stop_after(itr_to_stop):
    def cb(runner, itr, values):
        if itr >= itr_to_stop:
            runner.stop()
    return cb


def _next_event_file_second():
    """TensorBoard orders event files by name (time in whole seconds first): start the resumed part's file in a
    later second than the first part's."""
    time.sleep(max(0.0, 1.05 - (time.time() % 1.0)))


def _rows(run_dir):
    with open(os.path.join(run_dir, "progress.csv")) as f:
        return [{k: v for k, v in r.items() if k not in WALL_CLOCK_COLUMNS} for r in csv.DictReader(f)]


def _scalars(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(run_dir, size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)]
            for tag in acc.Tags()["scalars"] if tag not in WALL_CLOCK_COLUMNS}


class Crash(Exception):
    pass


def _crash_after(itr_to_stop):
    """Raise in the log interval after ``itr_to_stop``'s: that iteration was sampled and optimized (the live
    envs, RNGs and weights moved on) but neither logged nor checkpointed, as in a run killed mid-interval."""
    def cb(runner, itr, values):
        if itr > itr_to_stop:
            raise Crash()
    return cb


def _run(make, tmp_path, name, n_steps, stop_itr=None, crash=False):
    """The run dir of ``make(n_steps)`` trained to the end, or stopped after iteration ``stop_itr`` (its
    checkpoint written; ``crash``: killed during the next interval) and resumed with a new runner through the
    resume path."""
    callbacks = () if stop_itr is None else ((_crash_after if crash else _stop_after)(stop_itr),)
    with pytest.raises(Crash) if crash else _nothing():
        with logger_context(str(tmp_path), run_ID=name, name="exact", console=False) as logger:
            first = make(n_steps, callbacks)
            first.train()
    if stop_itr is not None:
        assert first.itr == stop_itr + int(crash)  # stopped part-way
        _next_event_file_second()
        with logger_context(resume=logger.run_dir, console=False):
            make(n_steps).train()
    return logger.run_dir


def _nothing():
    return contextlib.nullcontext()


_REFERENCES = {}


def _reference(case, tmp_path_factory):
    """``(rows, scalars)`` of the uninterrupted run of ``CASES[case]``, made once per test session."""
    if case not in _REFERENCES:
        make, n_steps, _ = CASES[case]
        run_dir = _run(make, tmp_path_factory.mktemp(f"ref_{case}"), "ref", n_steps)
        _REFERENCES[case] = (_rows(run_dir), _scalars(run_dir))
    return _REFERENCES[case]


def _compare(make, tmp_path, n_steps, stop_itr):
    ref = _run(make, tmp_path, "ref", n_steps)
    split = _run(make, tmp_path, "split", n_steps, stop_itr)
    return (_rows(ref), _scalars(ref)), (_rows(split), _scalars(split))


def _assert_same(ref, split):
    (ref_rows, ref_tb), (rows, tb) = ref, split
    assert len(rows) == len(ref_rows)
    for i, (a, b) in enumerate(zip(ref_rows, rows)):
        diff = {k: (a.get(k), b.get(k)) for k in a if a.get(k) != b.get(k)}
        assert a == b, f"progress.csv row {i} differs: {diff}"
    assert sorted(tb) == sorted(ref_tb)
    for tag in ref_tb:
        assert tb[tag] == ref_tb[tag], f"TensorBoard tag {tag} differs"


def _r2d1(n_steps, callbacks=()):
    """Recurrent agent + prioritized sequence replay (stored LSTM state, burn-in)."""
    from rlframe.agents.dqn import R2d1Agent
    from rlframe.algos.dqn import R2D1

    agent = R2d1Agent(model_kwargs=dict(fc_sizes=[8], lstm_size=8, head_sizes=[8]), eps_steps=256)
    algo = R2D1(sequence_length=8, burn_in=2, stride=4, n_step_return=2, batch_size=4, replay_size=1024,
                min_steps_learn=96, replay_ratio=1 / 8, target_update_interval=64, prioritized_replay=True)
    return MinibatchRl(algo, agent, _sampler("rlframe/CartPolePOMDP-v1", T=16, B=2), n_steps, seed=8,
                       log_interval_steps=64, callbacks=callbacks, save_replay=True)


def _sac(n_steps, callbacks=()):
    """Continuous actions: uniform warm-up, then the tanh-Gaussian policy; a per-step replay (batch_T = 1)."""
    from rlframe.agents.qpg import SacAgent
    from rlframe.algos.qpg import SAC

    agent = SacAgent(model_kwargs=dict(hidden_sizes=[16]), q_model_kwargs=dict(hidden_sizes=[16]))
    algo = SAC(batch_size=16, replay_size=512, min_steps_learn=40, replay_ratio=0.5)
    sampler = SerialSampler(GymEnv, dict(id="Pendulum-v1", max_episode_steps=30), batch_T=4, batch_B=2,
                            max_decorrelation_steps=10, eval_n_envs=1, eval_max_steps=30)
    return MinibatchRlEval(algo, agent, sampler, n_steps, seed=9, log_interval_steps=24, callbacks=callbacks,
                           save_replay=True)


CASES = {"ppo": (_ppo, 6 * 64, 2), "dqn": (_dqn, 8 * 64, 3), "recurrent_ppo": (_recurrent_ppo, 5 * 64, 1),
         "r2d1": (_r2d1, 8 * 64, 3), "sac": (_sac, 8 * 24, 8)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_stopped_and_resumed_run_logs_what_the_uninterrupted_run_logs(tmp_path, tmp_path_factory, case):
    make, n_steps, stop_itr = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResumeWarning)  # everything is saved: no warning
        ref = _reference(case, tmp_path_factory)
        split_dir = _run(make, tmp_path, "split", n_steps, stop_itr)
    split = (_rows(split_dir), _scalars(split_dir))
    assert any(r.get("rollout/return_mean") for r in ref[0])  # episodes finished and were logged
    _assert_same(ref, split)


def test_run_killed_mid_interval_resumes_exactly_from_its_last_checkpoint(tmp_path, tmp_path_factory):
    make, n_steps, stop_itr = CASES["ppo"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResumeWarning)
        split = _run(make, tmp_path, "split", n_steps, stop_itr, crash=True)
    _assert_same(_reference("ppo", tmp_path_factory), (_rows(split), _scalars(split)))


def test_replay_not_saved_is_named_at_resume(tmp_path):
    def dqn_without_replay(n_steps, callbacks=()):
        runner = _dqn(n_steps, callbacks)
        runner.save_replay = False
        return runner

    _, n_steps, stop_itr = CASES["dqn"]
    ref = _run(dqn_without_replay, tmp_path, "ref", n_steps)
    with pytest.warns(ResumeWarning, match=r"not bit-exact: no replay was saved .*--save-replay"):
        split = _run(dqn_without_replay, tmp_path, "split", n_steps, stop_itr)
    with pytest.raises(AssertionError):
        _assert_same((_rows(ref), _scalars(ref)), (_rows(split), _scalars(split)))


def _ppo_parallel(SamplerCls, n_steps, callbacks=(), start_method=None):
    sampler = SamplerCls(GymEnv, dict(id="CartPole-v1"), batch_T=16, batch_B=4, n_workers=2, start_method=start_method,
                         max_decorrelation_steps=20, eval_n_envs=2, eval_max_steps=300, eval_max_trajectories=2)
    agent = CategoricalPgAgent(model_kwargs=dict(hidden_sizes=[16]))
    algo = PPO(epochs=2, minibatches=2, learning_rate=3e-3)
    return MinibatchRlEval(algo, agent, sampler, n_steps, seed=5, log_interval_steps=64, callbacks=callbacks)


def test_cpu_sampler_run_resumes_exactly(tmp_path):
    from rlframe.samplers.parallel import CpuSampler

    def make(n_steps, callbacks=()):
        return _ppo_parallel(CpuSampler, n_steps, callbacks)

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResumeWarning)
        ref, split = _compare(make, tmp_path, 4 * 64, 1)
    _assert_same(ref, split)


def test_cpu_sampler_comparison_fails_without_the_workers_random_states(tmp_path, monkeypatch):
    from rlframe.samplers.parallel import CpuSampler
    from rlframe.samplers.parallel import base as parallel_base

    def make(n_steps, callbacks=()):  # fork: the workers inherit the patch below
        return _ppo_parallel(CpuSampler, n_steps, callbacks, start_method="fork")

    ref = _run(make, tmp_path, "ref", 4 * 64)
    monkeypatch.setattr(parallel_base, "_set_process_rng_state", lambda state: None)
    split = _run(make, tmp_path, "split", 4 * 64, 1)
    with pytest.raises(AssertionError):
        _assert_same((_rows(ref), _scalars(ref)), (_rows(split), _scalars(split)))


def test_resume_with_another_sampler_warns_and_starts_fresh_episodes(tmp_path):
    from rlframe.samplers.parallel import CpuSampler

    def serial_then_cpu(n_steps, callbacks=()):
        return _ppo_parallel(CpuSampler, n_steps) if not callbacks else _ppo(n_steps, callbacks)

    with pytest.warns(ResumeWarning, match="holds the state of a SerialSampler, this run uses a CpuSampler"):
        run_dir = _run(serial_then_cpu, tmp_path, "switch", 3 * 64, stop_itr=0)
    assert [r["time/env_steps"] for r in _rows(run_dir)] == ["0.0", "64.0", "128.0", "192.0"]


def test_gpu_sampler_resume_says_what_is_not_restored(tmp_path):
    from rlframe.samplers.parallel import GpuSampler

    def make(n_steps, callbacks=()):
        return _ppo_parallel(GpuSampler, n_steps, callbacks)

    with pytest.warns(ResumeWarning, match="not bit-exact: GpuSampler saves no env or collector state"):
        run_dir = _run(make, tmp_path, "gpu", 3 * 64, stop_itr=0)
    assert [r["time/env_steps"] for r in _rows(run_dir)] == ["0.0", "64.0", "128.0", "192.0"]


# --- every piece of state matters: dropping one on resume breaks the equality -------------------------------
def _drop_env_states(monkeypatch):
    def refuse(self):
        raise EnvStateError(f"env '{self.id}' does not pickle (dropped by the test)")
    monkeypatch.setattr(GymEnv, "get_state", refuse)


def _drop_traj_infos(monkeypatch):
    load = BaseCollector.load_state_dict

    def keep_fresh_traj_infos(self, state):  # the in-progress episodes' statistics are not restored
        fresh = list(self.traj_infos)
        load(self, state)
        self.traj_infos = fresh
    monkeypatch.setattr(BaseCollector, "load_state_dict", keep_fresh_traj_infos)


def _drop_step_buffers(monkeypatch):
    load = BaseCollector.load_state_dict

    def keep_fresh_step_buffers(self, state):  # observation / previous action and reward not restored
        fresh = [np.copy(x) for x in self.step_np]
        load(self, state)
        for dst, src in zip(self.step_np, fresh):
            dst[...] = src
    monkeypatch.setattr(BaseCollector, "load_state_dict", keep_fresh_step_buffers)


def _drop_rng(monkeypatch):
    monkeypatch.setattr(ckpt, "set_rng_states", lambda state: None)


def _drop_recurrent_state(monkeypatch):
    from rlframe.agents.recurrent import RecurrentStateMixin

    monkeypatch.setattr(RecurrentStateMixin, "load_sampling_state_dict", lambda self, state: None)


def _drop_replay_time_lines(monkeypatch):
    from rlframe.replays.base import BaseReplayBuffer

    load = BaseReplayBuffer.load_state_dict

    def cut(self, state, component=None):
        self.continue_after_load = False
        load(self, state, component)
    monkeypatch.setattr(BaseReplayBuffer, "load_state_dict", cut)


DROPS = [("ppo", _drop_env_states), ("ppo", _drop_traj_infos), ("ppo", _drop_step_buffers), ("ppo", _drop_rng),
         ("recurrent_ppo", _drop_recurrent_state), ("dqn", _drop_replay_time_lines), ("dqn", _drop_env_states),
         ("r2d1", _drop_recurrent_state), ("r2d1", _drop_replay_time_lines), ("sac", _drop_rng),
         ("sac", _drop_step_buffers)]


@pytest.mark.parametrize("case,drop", DROPS, ids=[f"{c}-{d.__name__[1:]}" for c, d in DROPS])
def test_dropping_one_piece_of_state_breaks_the_comparison(tmp_path, tmp_path_factory, monkeypatch, case, drop):
    make, n_steps, stop_itr = CASES[case]
    ref = _reference(case, tmp_path_factory)
    drop(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResumeWarning)
        split = _run(make, tmp_path, "split", n_steps, stop_itr)
    with pytest.raises(AssertionError):
        _assert_same(ref, (_rows(split), _scalars(split)))


# --- SIGKILL while a checkpoint is being written --------------------------------------------------------------
def _train_until_killed(log_dir, kill_itr):
    """Child process: the DQN run, whose checkpoint of ``kill_itr`` (its replay file already written) never gets
    renamed into place: the process is SIGKILLed by the test while it waits there."""
    import signal

    real_replace = os.replace

    def stuck_replace(src, dst):
        if os.path.basename(dst) == ckpt.checkpoint_name(kill_itr) and os.sep + "replay" + os.sep not in dst:
            open(os.path.join(log_dir, "writing"), "w").close()
            time.sleep(600)
        real_replace(src, dst)

    os.replace = stuck_replace
    signal.alarm(300)  # never outlive the test
    torch.set_num_threads(1)
    with logger_context(log_dir, run_ID="killed", name="exact", console=False):
        _dqn(CASES["dqn"][1]).train()


def test_sigkill_during_a_checkpoint_write_resumes_exactly_from_the_previous_one(tmp_path, tmp_path_factory):
    import glob
    import multiprocessing as mp
    import signal

    make, n_steps, stop_itr = CASES["dqn"]
    kill_itr = stop_itr + 2  # the next checkpointed iteration (a log interval is two iterations)
    ref = _reference("dqn", tmp_path_factory)
    log_dir = str(tmp_path / "child")
    p = mp.get_context("fork").Process(target=_train_until_killed, args=(log_dir, kill_itr))
    p.start()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not os.path.exists(os.path.join(log_dir, "writing")) and p.is_alive():
        time.sleep(0.05)
    assert os.path.exists(os.path.join(log_dir, "writing")), "the child never reached the checkpoint write"
    os.kill(p.pid, signal.SIGKILL)
    p.join(30)
    assert p.exitcode == -signal.SIGKILL
    run_dir = os.path.join(log_dir, "exact", "run_killed")
    checkpoints = os.path.join(run_dir, "checkpoints")
    assert glob.glob(os.path.join(checkpoints, ".itr_*.tmp*"))  # killed mid-write: the temporary file is there
    assert os.path.basename(ckpt.latest_checkpoint(checkpoints)) == ckpt.checkpoint_name(stop_itr)
    batch = 32  # T x B of _dqn's sampler
    assert _rows(run_dir)[-1]["time/env_steps"] == str(float((kill_itr + 1) * batch))  # logged, then killed
    _next_event_file_second()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResumeWarning)  # its replay was kept: nothing missing
        with logger_context(resume=run_dir, console=False):
            make(n_steps).train()
    _assert_same(ref, (_rows(run_dir), _scalars(run_dir)))
