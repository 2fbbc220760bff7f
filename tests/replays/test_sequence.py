"""Sequence replay: stored RNN state at sequence starts, burn-in windows, stride, n-step targets inside a
window, priorities per sequence, checkpoints."""
import numpy as np
import pytest
import torch

import rlframe  # noqa: F401
from rlframe.agents.base import AgentInputs
from rlframe.agents.dqn.r2d1 import R2d1AgentInfo
from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.errors import ConfigError
from rlframe.models.rnn import RnnState
from rlframe.replays.sequence import (PrioritizedSequenceReplayBuffer, SequenceReplayBuffer, sequence_priorities,
                                      window_n_step_targets)

Samples = namedarraytuple("Samples", ["agent", "env"])
Agent = namedarraytuple("Agent", ["action", "prev_action", "agent_info"])
Env = namedarraytuple("Env", ["observation", "reward", "prev_reward", "terminated", "truncated", "done",
                              "final_observation"])
B = 2


def _examples():
    state = RnnState(np.zeros((1, 3), np.float32), np.zeros((1, 3), np.float32))
    return dict(observation=np.zeros(1, np.float32), action=np.int64(0),
                agent_info=R2d1AgentInfo(q=np.zeros(2, np.float32), prev_rnn_state=state))


def _batch(t0, T, ends=(), truncs=()):
    """Observation = absolute time (+ 1000 * env); state h = same; episodes end where listed ((t, b) absolute)."""
    t = np.arange(t0, t0 + T, dtype=np.float32)[:, None] + 1000 * np.arange(B)[None, :]
    term = np.zeros((T, B), bool)
    trunc = np.zeros((T, B), bool)
    for (tt, b) in ends:
        if t0 <= tt < t0 + T:
            term[tt - t0, b] = True
    for (tt, b) in truncs:
        if t0 <= tt < t0 + T:
            trunc[tt - t0, b] = True
    h = np.repeat(t[:, :, None, None], 3, axis=3)
    info = R2d1AgentInfo(q=np.zeros((T, B, 2), np.float32), prev_rnn_state=RnnState(h, -h))
    final = np.where(trunc, -t, 0)[..., None].astype(np.float32)
    return Samples(Agent(np.zeros((T, B), np.int64), np.zeros((T, B), np.int64), info),
                   Env(t[..., None], np.ones((T, B), np.float32), np.ones((T, B), np.float32), term, trunc,
                       term | trunc, final))


def _replay(Cls=SequenceReplayBuffer, **kw):
    args = dict(size=200, B=B, discount=0.5, n_step_return=2, seed=0, sequence_length=4, burn_in=3, stride=2)
    args.update(kw)
    return Cls(_examples(), **args)


def test_windows_start_on_the_stride_grid_with_the_state_stored_there():
    r = _replay()
    for k in range(4):
        r.append_samples(_batch(10 * k, 10))
    assert r.window == 3 + 4 + 2
    lo, hi = r.sampleable_range()
    assert (lo, hi) == (0, 40 - r.window + 1)
    batch = r.sample_batch(64)
    obs = batch.agent_inputs.observation[..., 0]
    start = obs[0] % 1000
    assert torch.all(start % 2 == 0) and torch.all(start + r.window <= 40)
    assert torch.all(obs[1:] - obs[:-1] == 1)  # consecutive steps of one env
    torch.testing.assert_close(batch.init_rnn_state.h[:, 0, 0], obs[0])  # the state stored at the start
    torch.testing.assert_close(batch.init_rnn_state.c[:, 0, 0], -obs[0])
    assert batch.agent_inputs.observation.shape == (9, 64, 1) and batch.idxs.shape == (64,)


def test_burn_in_and_trained_slices_and_targets_inside_a_window():
    # env 0: terminated at t=14, truncated at t=21; windows of 9 steps: burn-in 3, trained 4, bootstrap 2
    r = _replay()
    for k in range(4):
        r.append_samples(_batch(10 * k, 10, ends=[(14, 0)], truncs=[(21, 0)]))
    rows, bs = np.array([10, 16]), np.array([0, 0])
    batch = r.sequence_batch(rows, bs, np.ones(2, np.float32))
    ret, disc, pos, final = r.n_step_targets_of(batch)
    # window starting at t=10: trained steps are t=13..16 (window index 3..6)
    assert batch.agent_inputs.observation[3, 0, 0] == 13
    # t=13: r13 + 0.5 r14, terminated at 14 -> no bootstrap; t=14: r14 only, terminated
    np.testing.assert_allclose(ret[:2, 0], [1.5, 1.0])
    np.testing.assert_allclose(disc[:2, 0], [0.0, 0.0])
    # t=15, 16: two steps then bootstrap from t+2 (window index 7, 8)
    np.testing.assert_allclose(ret[2:, 0], [1.5, 1.5])
    np.testing.assert_allclose(disc[2:, 0], [0.25, 0.25])
    np.testing.assert_array_equal(pos[2:, 0], [7, 8])
    assert not final[:, 0].any()
    # window starting at t=16: trained t=19..22; t=20, 21 end at the truncation (t=21): bootstrap from its final
    # observation, which sits at window index 5 (t=21) of final_observation, read at index 6
    np.testing.assert_allclose(ret[:, 1], [1.5, 1.5, 1.0, 1.5])
    np.testing.assert_allclose(disc[:, 1], [0.25, 0.25, 0.5, 0.25])
    np.testing.assert_array_equal(pos[:, 1], [5, 6, 6, 8])
    np.testing.assert_array_equal(final[:, 1], [False, True, True, False])
    assert batch.final_observation[5, 1, 0] == -21 and batch.truncated[5, 1] and batch.done[5, 1]


def test_window_targets_stop_at_the_first_end():
    reward = np.arange(1, 7, dtype=np.float32)[:, None]
    done = np.zeros((6, 1), bool)
    done[2] = True
    term = done.copy()
    ret, disc, pos, final = window_n_step_targets(reward, done, term, start=0, length=3, n=3, discount=0.5)
    np.testing.assert_allclose(ret[:, 0], [1 + 1 + 0.75, 2 + 1.5, 3])
    np.testing.assert_allclose(disc[:, 0], [0, 0, 0])
    np.testing.assert_array_equal(pos[:, 0], [3, 3, 3])
    assert not final.any()


def test_sequence_priorities_mix_max_and_mean():
    td = torch.tensor([[1.0, 0.0], [3.0, 2.0]])
    np.testing.assert_allclose(sequence_priorities(td, eta=0.9).numpy(), [0.9 * 3 + 0.1 * 2, 0.9 * 2 + 0.1 * 1])
    valid = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(sequence_priorities(td, valid, eta=0.5).numpy(), [1.0, 0.5 * 2 + 0.5 * 1])


def test_prioritized_sequences_follow_their_priorities():
    r = _replay(PrioritizedSequenceReplayBuffer, alpha=1.0, beta=1.0, size=400)
    for k in range(4):
        r.append_samples(_batch(10 * k, 10))
    live = np.flatnonzero(r.tree.leaves > 0)
    assert live.size == B * len(range(0, 40 - r.window + 1, 2))
    r.sample_batch(live.size)
    r.update_batch_priorities(np.zeros(live.size), idxs=live)  # eps: almost never drawn
    r.update_batch_priorities(np.array([4.0]), idxs=live[:1])
    batch = r.sample_batch(200)
    assert (batch.idxs == int(live[0])).float().mean() > 0.95
    assert r.priorities().shape == (r.slots, B)


def test_old_windows_leave_when_the_ring_overwrites_them():
    r = _replay(PrioritizedSequenceReplayBuffer, size=60)  # 30 rows per env
    for k in range(6):
        r.append_samples(_batch(10 * k, 10))
    lo, hi = r.sampleable_range()
    assert lo == 30 and hi == 60 - r.window + 1
    batch = r.sample_batch(200)
    assert torch.all(batch.agent_inputs.observation[0, :, 0] % 1000 >= 30)


def test_checkpoint_round_trip_keeps_the_stored_states():
    r = _replay(PrioritizedSequenceReplayBuffer)
    for k in range(3):
        r.append_samples(_batch(10 * k, 10))
    r.sample_batch(4)
    r.update_batch_priorities(np.arange(4.0))
    other = _replay(PrioritizedSequenceReplayBuffer)
    other.load_state_dict(r.state_dict())
    np.testing.assert_array_equal(other.extra.h, r.extra.h)
    np.testing.assert_array_equal(other.extra.c, r.extra.c)
    assert np.all(other.priorities() <= r.priorities() + 1e-12)


def test_the_agent_must_store_a_recurrent_state():
    ex = dict(_examples(), agent_info=namedarraytuple("Info", ["q"])(np.zeros(2, np.float32)))
    with pytest.raises(ConfigError, match="prev_rnn_state"):
        SequenceReplayBuffer(ex, size=200, B=B, sequence_length=4)
    with pytest.raises(ConfigError, match="stride"):
        _replay(stride=20)
    with pytest.raises(ConfigError, match="replay_size"):
        _replay(size=20)
