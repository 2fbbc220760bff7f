"""Ring buffer and n-step targets of the replay base, through UniformReplayBuffer."""
import numpy as np
import pytest
import torch

from rlframe.errors import ConfigError, ShapeMismatchError
from rlframe.replays import UniformReplayBuffer
from tests.replays.replay_streams import BLANK, OBS_DIM, decode, examples, make_stream

GAMMA = 0.9


def check_batch(batch, stream, total, T_ring, n, gamma=GAMMA):
    b = batch.idxs.numpy() % stream.obs.shape[1]
    tau = decode(batch.agent_inputs.observation.numpy(), b)
    assert (tau >= max(0, total - T_ring)).all() and (tau < total - n).all()
    assert not stream.blank[tau, b].any()
    assert (batch.idxs.numpy() // stream.obs.shape[1] == tau % T_ring).all()
    np.testing.assert_array_equal(batch.action.numpy(), stream.action[tau, b])
    np.testing.assert_array_equal(batch.agent_inputs.prev_action.numpy(), stream.prev_action[tau, b])
    np.testing.assert_array_equal(batch.agent_inputs.prev_reward.numpy(), stream.prev_reward[tau, b])
    for i in range(len(tau)):
        G, disc, target = stream.reference(int(tau[i]), int(b[i]), n, gamma)
        assert batch.return_[i].item() == pytest.approx(G, rel=1e-5, abs=1e-5)
        assert batch.bootstrap_discount[i].item() == pytest.approx(disc, rel=1e-6)
        if target is not None:
            assert batch.target_inputs.observation[i, 0].item() == target
    assert (batch.is_weights.numpy() == 1).all()


@pytest.mark.parametrize("n", [1, 3])
def test_n_step_targets_follow_the_stream_across_ring_wraps(n):
    B, T, T_ring = 3, 5, 12
    stream = make_stream(200, B, seed=n)
    replay = UniformReplayBuffer(examples(), size=T_ring * B, B=B, discount=GAMMA, n_step_return=n, seed=0)
    assert replay.T == T_ring
    for i in range(30):  # 150 steps: the ring wraps many times, at every phase
        replay.append_samples(stream.batch(i * T, T))
        total = (i + 1) * T
        if total - n > 0:
            check_batch(replay.sample_batch(64), stream, total, T_ring, n)
    assert len(replay) == T_ring * B


def test_terminated_stops_and_truncated_bootstraps_from_the_final_observation():
    B, n = 1, 4
    stream = make_stream(20, B, p_term=0.0, p_trunc=0.0)
    stream.terminated[3, 0] = True
    stream.truncated[9, 0] = True
    stream.final[9, 0] = -123.0
    stream.reward[:] = 1.0
    replay = UniformReplayBuffer(examples(), size=64, B=B, discount=GAMMA, n_step_return=n, seed=0)
    replay.append_samples(stream.batch(0, 20))
    rows = np.array([1, 3, 6, 9, 10]); bs = np.zeros(5, np.int64)
    batch = replay.transition_batch(rows, bs, np.ones(5))
    g = GAMMA
    # t=1: steps 1,2,3 then terminated -> no bootstrap
    assert batch.return_[0].item() == pytest.approx(1 + g + g ** 2)
    assert batch.bootstrap_discount[0].item() == 0.0
    assert batch.bootstrap_discount[1].item() == 0.0 and batch.return_[1].item() == pytest.approx(1.0)
    # t=6: steps 6..9, truncated at 9 -> bootstrap gamma^4 from the true final observation, not obs[10]
    assert batch.return_[2].item() == pytest.approx(1 + g + g ** 2 + g ** 3)
    assert batch.bootstrap_discount[2].item() == pytest.approx(g ** 4)
    assert batch.target_inputs.observation[2, 0].item() == -123.0
    assert batch.target_inputs.prev_action[2].item() == stream.action[9, 0]
    assert batch.target_inputs.prev_reward[2].item() == 1.0
    assert batch.bootstrap_discount[3].item() == pytest.approx(g) and batch.target_inputs.observation[3, 0] == -123.0
    # t=10: a fresh episode, full n-step window
    assert batch.bootstrap_discount[4].item() == pytest.approx(g ** 4)
    assert batch.target_inputs.observation[4, 0].item() == stream.obs[14, 0, 0]


def test_final_observations_are_stored_sparsely_and_released_on_overwrite():
    B, T = 4, 10
    stream = make_stream(400, B, seed=3, p_term=0.0, p_trunc=0.05)
    replay = UniformReplayBuffer(examples(), size=40 * B, B=B, discount=GAMMA, n_step_return=2, seed=0)
    for i in range(40):
        replay.append_samples(stream.batch(i * T, T))
        total = (i + 1) * T
        window = slice(max(0, total - replay.T), total)
        assert len(replay.final_obs) == int(stream.truncated[window].sum())
    assert replay.final_obs.capacity < replay.size / 4  # far from a second copy of the observations


def test_wait_reset_blank_slots_are_never_sampled():
    B, T = 3, 6
    stream = make_stream(120, B, seed=5, p_term=0.15, p_trunc=0.1, wait_reset_T=T)
    assert stream.blank.any()
    replay = UniformReplayBuffer(examples(), size=30 * B, B=B, discount=GAMMA, n_step_return=3, seed=1)
    for i in range(20):
        replay.append_samples(stream.batch(i * T, T))
        if (i + 1) * T > 3:
            batch = replay.sample_batch(128)
            assert (batch.agent_inputs.observation[:, 0] != BLANK).all()
            check_batch(batch, stream, (i + 1) * T, replay.T, 3)


def test_torch_samples_and_batch_types():
    B = 2
    stream = make_stream(30, B, seed=2)
    replay = UniformReplayBuffer(examples(), size=40, B=B, n_step_return=1, seed=0)
    from rlframe.core.buffers import torchify
    replay.append_samples(torchify(stream.batch(0, 10)))
    batch = replay.sample_batch(8)
    assert batch.agent_inputs.observation.dtype == torch.float32 and batch.agent_inputs.observation.shape == (8, OBS_DIM)
    assert batch.action.dtype == torch.int64 and batch.return_.dtype == torch.float32
    assert batch.idxs.dtype == torch.int64


def test_shape_mismatch_names_replay_field_and_shapes():
    stream = make_stream(10, 2)
    replay = UniformReplayBuffer(examples(obs_shape=(3,)), size=40, B=2)
    with pytest.raises(ShapeMismatchError) as e:
        replay.append_samples(stream.batch(0, 5))
    msg = str(e.value)
    assert "UniformReplayBuffer" in msg and "observation" in msg and "(3,)" in msg and "(2,)" in msg
    with pytest.raises(ShapeMismatchError, match="batch_B"):
        UniformReplayBuffer(examples(), size=40, B=3).append_samples(stream.batch(0, 5))


def test_truncation_without_final_observation_is_a_config_error():
    stream = make_stream(10, 1, p_term=0, p_trunc=0)
    stream.truncated[4, 0] = True
    replay = UniformReplayBuffer(examples(), size=40, B=1)
    with pytest.raises(ConfigError, match="final_observation=True"):
        replay.append_samples(stream.batch(0, 10, with_final=False))


def test_sampling_before_enough_data_and_too_small_ring_are_config_errors():
    with pytest.raises(ConfigError, match="replay_size"):
        UniformReplayBuffer(examples(), size=8, B=2, n_step_return=3)
    replay = UniformReplayBuffer(examples(), size=40, B=1, n_step_return=3)
    replay.append_samples(make_stream(3, 1).batch(0, 3))
    with pytest.raises(ConfigError, match="min_steps_learn"):
        replay.sample_batch(4)


def test_state_dict_round_trip_cuts_the_time_lines():
    B, T = 2, 5
    stream = make_stream(100, B, seed=4)
    replay = UniformReplayBuffer(examples(), size=30 * B, B=B, discount=GAMMA, n_step_return=2, seed=0)
    for i in range(8):
        replay.append_samples(stream.batch(i * T, T))
    state = replay.state_dict()
    buf = __import__("io").BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    other = UniformReplayBuffer(examples(), size=30 * B, B=B, discount=GAMMA, n_step_return=2, seed=0)
    other.load_state_dict(state)
    assert other.total == 40 and len(other.final_obs) == len(replay.final_obs)
    np.testing.assert_array_equal(other.buf.observation, replay.buf.observation)
    # the rows whose bootstrap step never came are never sampled, even after new data arrives
    other.append_samples(stream.batch(60, T))
    b = other.sample_batch(2000)
    tau = decode(b.agent_inputs.observation.numpy(), b.idxs.numpy() % B)
    assert not np.isin(tau, [38, 39]).any()
    assert np.isin(tau, [37]).any() and np.isin(tau, [60, 61, 62]).any()
    with pytest.raises(ShapeMismatchError, match="rows x envs"):
        UniformReplayBuffer(examples(), size=20 * B, B=B, n_step_return=2).load_state_dict(state)
    with pytest.raises(ShapeMismatchError, match="observation"):
        UniformReplayBuffer(examples(obs_shape=(3,)), size=30 * B, B=B, n_step_return=2).load_state_dict(state)


def _doc_blocks():
    import os
    import re

    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "replays.md")
    with open(path) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


def test_docs_examples_run():
    """The two examples of docs/replays.md: a replay filled by a sampler, and a ReplayAlgorithm subclass
    trained for a few hundred steps by MinibatchRl."""
    standalone, subclass = _doc_blocks()
    exec(compile(standalone, "docs/replays.md", "exec"), {})
    from rlframe.envs.gym import GymEnv
    from rlframe.runners import MinibatchRl
    from rlframe.samplers.serial import SerialSampler
    from tests.algos.toy_q import ToyQAgent

    scope = {}
    exec(compile("import copy, torch\nfrom rlframe.algos.replay_base import ReplayAlgorithm\n" + subclass,
                 "docs/replays.md", "exec"), scope)
    sampler = SerialSampler(GymEnv, dict(id="CartPole-v1", max_episode_steps=50), batch_T=4, batch_B=2,
                            max_decorrelation_steps=0)
    algo = scope["MyQ"](min_steps_learn=64, replay_size=1000, prioritized_replay=True, n_step_return=3)
    result = MinibatchRl(algo, ToyQAgent(), sampler, n_steps=160, log_interval_steps=80, seed=0).train()
    assert result["time/updates"] == (160 - 56) * 1.0  # updates from the batch of steps 57..64 on
    assert np.isfinite(result["train/loss"])
    assert result["replay/size"] == 160.0
