"""MinibatchRl with a replay-based algorithm on a real sampler: replay tags, resume with target networks and
counters, the replay saved with checkpoints (save_replay)."""
import csv
import os

import numpy as np
import pytest
import torch

from rlframe.algos.base import RlAlgorithm
from rlframe.envs.gym import GymEnv
from rlframe.errors import ConfigError
from rlframe.logging import list_checkpoints, load_checkpoint, logger_context
from rlframe.runners import MinibatchRl, MinibatchRlEval
from rlframe.samplers.serial import SerialSampler
from tests.algos.toy_q import ToyQ, ToyQAgent


class RecordingToyQ(ToyQ):
    loaded = None

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.loaded = {k: v.clone() for k, v in self.target.state_dict().items()}


def make(n_steps, eval_=False, save_replay=False, **algo_kw):
    # CartPole cut at 30 steps: truncations happen, so targets need the sampler's final observations
    sampler = SerialSampler(GymEnv, dict(id="CartPole-v1", max_episode_steps=30), batch_T=4, batch_B=2,
                            max_decorrelation_steps=0, eval_n_envs=1 if eval_ else 0,
                            eval_max_steps=60 if eval_ else None)
    kw = dict(replay_size=1000, batch_size=16, min_steps_learn=40, replay_ratio=0.5, target_update_interval=50,
              learning_rate=1e-3)
    kw.update(algo_kw)
    Runner = MinibatchRlEval if eval_ else MinibatchRl
    return Runner(RecordingToyQ(**kw), ToyQAgent(), sampler, n_steps=n_steps, seed=3, log_interval_steps=40,
                  save_replay=save_replay)


def rows(run_dir):
    with open(os.path.join(run_dir, "progress.csv")) as f:
        return list(csv.DictReader(f))


def test_replay_algo_trains_and_logs_replay_tags(tmp_path):
    runner = make(240, eval_=True, prioritized_replay=True)
    with logger_context(str(tmp_path), name="toy") as logger:
        runner.train()
    r = rows(logger.run_dir)
    assert float(r[-1]["replay/size"]) == 240.0
    assert 0.4 < float(r[-1]["replay/beta"]) <= 1.0
    # learning starts with the batch that brings the replay to min_steps_learn (env steps 33..40)
    assert float(r[-1]["time/updates"]) == runner.algo.update_counter == (240 - 32) * 0.5
    assert np.isfinite(float(r[-1]["train/loss"])) and "train/q_mean" in r[-1]
    # truncated episodes got their final observations (the replay would refuse them otherwise)
    assert len(runner.algo.replay.final_obs) > 0


def test_resume_continues_counters_and_target_networks(tmp_path):
    first = make(160)
    with logger_context(str(tmp_path), name="toy") as logger:
        first.train()
    run_dir = logger.run_dir
    saved = load_checkpoint(list_checkpoints(os.path.join(run_dir, "checkpoints"))[-1])
    assert saved["algo_state_dict"]["env_steps"] == 160
    second = make(320)
    with logger_context(resume=run_dir):
        second.train()
    for k, v in saved["algo_state_dict"]["target_model"].items():
        assert torch.equal(second.algo.loaded[k], v)
    assert second.algo.env_steps == 320
    r = rows(run_dir)
    steps = [float(x["time/env_steps"]) for x in r]
    assert steps == [40, 80, 120, 160, 200, 240, 280, 320]
    updates = [float(x["time/updates"]) for x in r]
    assert updates == sorted(updates) and updates[3] == (160 - 32) * 0.5
    # the replay was not saved: after the resume it fills again (min_steps_learn = 40 env steps) before the
    # updates resume, with the batch of env steps 193..200
    assert updates[4] == updates[3] + 8 * 0.5
    assert updates[-1] == updates[3] + (320 - 192) * 0.5
    assert not os.path.exists(os.path.join(run_dir, "checkpoints", "replay"))


def test_save_replay_restores_the_replay_contents(tmp_path):
    first = make(160, save_replay=True, prioritized_replay=True)
    with logger_context(str(tmp_path), name="toy") as logger:
        first.train()
    run_dir = logger.run_dir
    replay_files = os.listdir(os.path.join(run_dir, "checkpoints", "replay"))
    assert replay_files == ["itr_0000019.pt"]  # the newest only
    stored = first.algo.replay.buf.observation.copy()
    second = make(200, save_replay=True, prioritized_replay=True)
    with logger_context(resume=run_dir):
        second.train()
    r = rows(run_dir)
    assert float(r[-1]["replay/size"]) == 200.0  # 160 restored + 40 new
    # rows written before the stop are the same bytes
    np.testing.assert_array_equal(second.algo.replay.buf.observation[:20], stored[:20])
    assert float(r[-1]["time/updates"]) == (200 - 32) * 0.5  # no refill wait: the replay came back


class NoReplay(RlAlgorithm):
    def initialize(self, agent, n_itr, batch_spec, mid_batch_reset=False, examples=None, world_size=1, rank=0):
        pass


def test_save_replay_needs_a_replay_algorithm(tmp_path):
    sampler = SerialSampler(GymEnv, dict(id="CartPole-v1"), batch_T=4, batch_B=1, max_decorrelation_steps=0)
    runner = MinibatchRl(NoReplay(), ToyQAgent(), sampler, n_steps=16, log_interval_steps=8, save_replay=True)
    with logger_context(str(tmp_path), name="x"):
        with pytest.raises(ConfigError, match="save_replay needs a replay-based algorithm"):
            runner.train()
