"""samples.env.final_observation (the env's true final observation where an episode ended), valid_mask and
the next-observation rule, for both training collectors."""
import numpy as np
import pytest
import torch

from rlframe.core.buffers import torchify
from rlframe.core.namedarraytuple import map_leaves
from rlframe.envs.base import EnvSpaces, EnvStep
from rlframe.errors import ConfigError
from rlframe.samplers import (
    BatchSpec, ResetCollector, SerialSampler, TrajInfo, WaitResetCollector, build_samples_buffer,
    next_observation, valid_mask,
)
import gymnasium as gym

from tests.helpers import RandomAgent


class RecordingEnv:
    """Observation ``[t, noise, episode]`` (noise from the env's seeded generator, so every observation is
    distinct); episodes of random length end by termination or by truncation (both occur). Records, per
    step, the observation the step returned (``next_obs``) and the final observations (``finals``)."""

    def __init__(self, seed: int = 0):
        self.spaces = EnvSpaces(observation=gym.spaces.Box(-np.inf, np.inf, (3,), np.float32),
                                action=gym.spaces.Discrete(2))
        self.rng = np.random.default_rng(seed)
        self.episode = -1
        self.next_obs, self.finals = [], []

    def seed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.spaces.action.seed(seed)

    def _obs(self) -> np.ndarray:
        return np.array([self.t, self.rng.normal(), self.episode], np.float32)

    def reset(self) -> np.ndarray:
        self.episode += 1
        self.t = 0
        self.length = int(self.rng.integers(2, 6))
        self.by_termination = bool(self.rng.random() < 0.5)
        return self._obs()

    def step(self, action) -> EnvStep:
        self.t += 1
        o = self._obs()
        end = self.t >= self.length
        term, trunc = end and self.by_termination, end and not self.by_termination
        self.next_obs.append(o)
        if end:
            self.finals.append(o)
        return EnvStep(o, 1.0, term, trunc, None)

    def close(self) -> None:
        pass


def collect(CollectorCls, T=7, B=3, n_batches=4, final_observation=True):
    """Run ``n_batches`` batches; returns copies of each batch's samples and the envs."""
    envs = [RecordingEnv(seed=b) for b in range(B)]
    agent = RandomAgent()
    agent.initialize(envs[0].spaces, global_B=B)
    _, samples_np, _ = build_samples_buffer(agent, envs[0], BatchSpec(T, B), final_observation=final_observation)
    for env in envs:  # forget the probe step of env 0
        env.next_obs.clear(), env.finals.clear()
    collector = CollectorCls(rank=0, envs=envs, samples_np=samples_np, batch_T=T, TrajInfoCls=TrajInfo,
                             agent=agent, global_B=B)
    collector.start_envs(0)
    batches = []
    for itr in range(n_batches):
        collector.collect_batch(itr)
        batches.append(map_leaves(np.copy, samples_np))
    return batches, envs


@pytest.mark.parametrize("CollectorCls, T", [(ResetCollector, 7), (WaitResetCollector, 5)])
def test_final_observation_is_the_envs_true_final_observation(CollectorCls, T):
    """Terminations and truncations, mid-batch and at t = T-1 (T = 5 lets wait-reset episodes of up to 5
    steps end at the last step), over several batches."""
    batches, envs = collect(CollectorCls, T=T)
    ended_at_last_step = mid_batch_ends = 0
    for b, env in enumerate(envs):
        got = []
        for s in batches:
            ends = np.flatnonzero(s.env.terminated[:, b] | s.env.truncated[:, b])
            got += [s.env.final_observation[t, b] for t in ends]
            ended_at_last_step += int(T - 1 in ends)
            mid_batch_ends += int(any(t < T - 1 for t in ends))
            others = np.ones(T, bool)
            others[ends] = False
            assert not s.env.final_observation[others, b].any()  # zeros wherever no episode ended
        assert len(got) == len(env.finals) > 0
        np.testing.assert_array_equal(np.stack(got), np.stack(env.finals))
    terms = sum(s.env.terminated.sum() for s in batches)
    truncs = sum(s.env.truncated.sum() for s in batches)
    assert terms > 0 and truncs > 0  # both ways of ending are covered
    assert ended_at_last_step > 0 and mid_batch_ends > 0


def test_reset_collector_next_observation_after_a_mid_batch_reset():
    batches, envs = collect(ResetCollector)
    s = batches[0]
    t, b = map(int, np.argwhere(s.env.done[:-1])[0])  # an episode that ended inside the batch
    assert s.env.observation[t + 1, b, 0] == 0  # observation[t+1] is the reset observation ...
    assert s.env.final_observation[t, b, 0] == s.env.observation[t, b, 0] + 1  # ... s' is the final one


@pytest.mark.parametrize("CollectorCls", [ResetCollector, WaitResetCollector])
def test_next_observation_rule_gives_every_steps_true_successor(CollectorCls):
    """s' from next_observation (observation[t+1], the next batch's observation[0] at t = T-1, the final
    observation at episode ends), over the valid slots in order, equals what the env returned at each step."""
    batches, envs = collect(CollectorCls)
    for b, env in enumerate(envs):
        got = []
        for k, s in enumerate(batches[:-1]):
            nxt = next_observation(s, batches[k + 1].env.observation[0])
            valid = valid_mask(s)[:, b].astype(bool)
            got += list(nxt[valid, b])
        np.testing.assert_array_equal(np.stack(got), np.stack(env.next_obs[:len(got)]))


def test_valid_mask_marks_wait_reset_blanks_only():
    (s, *_), _ = collect(WaitResetCollector, n_batches=1)
    mask = valid_mask(s)
    blank = s.env.done & ~(s.env.terminated | s.env.truncated)
    assert blank.any()
    np.testing.assert_array_equal(mask, (~blank).astype(np.float32))
    assert not s.env.final_observation[blank].any()
    torch_mask = valid_mask(torchify(s))
    assert torch.equal(torch_mask, torch.from_numpy(mask))
    (r, *_), _ = collect(ResetCollector, n_batches=1)
    assert valid_mask(r).all()  # reset collectors: every slot is a real step


def test_not_requested_means_none():
    (s, *_), _ = collect(ResetCollector, n_batches=1, final_observation=False)
    assert s.env.final_observation is None
    with pytest.raises(ConfigError, match="final_observation=True"):
        next_observation(s)


def test_serial_sampler_structured_observations():
    """A Dict observation: final_observation has the same fields, filled at episode ends only."""
    from rlframe.envs.gym import GymEnv

    sampler = SerialSampler(GymEnv, dict(id="tests.envs.gym_test_envs:RlframeTest/DictObs-v0"), batch_T=8, batch_B=2,
                            max_decorrelation_steps=0)
    sampler.initialize(RandomAgent(), seed=0, final_observation=True)
    try:
        s, _ = sampler.obtain_samples(0)
        fo, done = s.env.final_observation, s.env.done
        assert fo._fields == s.env.observation._fields
        assert done.any() and (fo.pos[done] == 4).all() and not fo.pos[~done].any()  # time limit: 4 steps
        assert (fo.mask[done] == [1, 0, 1]).all() and not fo.mask[~done].any()
    finally:
        sampler.shutdown()
