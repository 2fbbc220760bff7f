"""Frame replays rebuild exactly the stacked observations the env emitted, storing each frame once."""
import numpy as np
import pytest

from rlframe.errors import ShapeMismatchError
from rlframe.replays import FrameReplayBuffer, PrioritizedFrameReplayBuffer
from tests.replays.replay_streams import make_stream

K, FRAME = 4, (3, 5)
GAMMA = 0.9


def frame(b, tau, rng):
    f = rng.integers(0, 255, size=FRAME).astype(np.float32)
    f[0, 0] = 1000.0 * b + tau
    return f


def stacked_stream(N, B, padding, seed=0):
    """Stacked observations as gymnasium's FrameStackObservation emits them (padding 'zeros' or 'reset')."""
    s = make_stream(N, B, seed=seed, p_term=0.06, p_trunc=0.06)
    rng = np.random.default_rng(seed + 100)
    frames = np.stack([np.stack([frame(b, t, rng) for b in range(B)]) for t in range(N)])
    final_frames = -frames
    obs = np.zeros((N, B, K) + FRAME, np.float32)
    final = np.zeros_like(obs)
    for b in range(B):
        stack = None
        for t in range(N):
            if stack is None:  # episode start
                pad = frames[t, b] if padding == "reset" else np.zeros(FRAME, np.float32)
                stack = [pad] * (K - 1) + [frames[t, b]]
            else:
                stack = stack[1:] + [frames[t, b]]
            obs[t, b] = np.stack(stack)
            if s.terminated[t, b] or s.truncated[t, b]:
                final[t, b] = np.stack(stack[1:] + [final_frames[t, b]])
                stack = None
    s.obs, s.final = obs, final
    return s


def tau_of(observation, b):
    return (observation[:, -1, 0, 0] - 1000.0 * b).astype(np.int64)


@pytest.mark.parametrize("padding", ["zeros", "reset"])
@pytest.mark.parametrize("Cls", [FrameReplayBuffer, PrioritizedFrameReplayBuffer])
def test_rebuilt_stacks_equal_the_env_stacks(padding, Cls):
    B, T, n = 3, 7, 2
    stream = stacked_stream(300, B, padding)
    ex = dict(observation=np.zeros((K,) + FRAME, np.float32), action=np.int64(0), reward=np.float32(0))
    replay = Cls(ex, size=25 * B, B=B, discount=GAMMA, n_step_return=n, seed=0)
    assert replay.buf.observation.shape == (replay.T, B) + FRAME  # one frame per step
    for i in range(40):
        replay.append_samples(stream.batch(i * T, T))
        total = (i + 1) * T
        if total <= n + 1:
            continue
        batch = replay.sample_batch(64)
        b = batch.idxs.numpy() % B
        obs = batch.agent_inputs.observation.numpy()
        tau = tau_of(obs, b)
        assert (tau >= total - replay.T + K - 1).all() or total <= replay.T
        np.testing.assert_array_equal(obs, stream.obs[tau, b])
        for j in range(len(tau)):
            G, disc, _ = stream.reference(int(tau[j]), int(b[j]), n, GAMMA)
            assert batch.return_[j].item() == pytest.approx(G, rel=1e-5, abs=1e-5)
            assert batch.bootstrap_discount[j].item() == pytest.approx(disc, rel=1e-6)
            if disc > 0:
                k = next((k for k in range(n) if stream.truncated[tau[j] + k, b[j]]), None)
                target = stream.final[tau[j] + k, b[j]] if k is not None else stream.obs[tau[j] + n, b[j]]
                np.testing.assert_array_equal(batch.target_inputs.observation[j].numpy(), target)
    starts_in_ring = len(replay.start_stacks)
    assert starts_in_ring == int(replay.start.sum()) < replay.T * B / 4


def test_frame_replay_round_trip_and_shape_errors():
    B, T = 2, 5
    stream = stacked_stream(80, B, "zeros", seed=3)
    ex = dict(observation=np.zeros((K,) + FRAME, np.float32), action=np.int64(0), reward=np.float32(0))
    replay = FrameReplayBuffer(ex, size=20 * B, B=B, n_step_return=1, seed=0)
    for i in range(6):
        replay.append_samples(stream.batch(i * T, T))
    other = FrameReplayBuffer(ex, size=20 * B, B=B, n_step_return=1, seed=0)
    other.load_state_dict(replay.state_dict())
    other.append_samples(stream.batch(50, T))  # a new time line after the cut
    batch = other.sample_batch(256)
    b = batch.idxs.numpy() % B
    obs = batch.agent_inputs.observation.numpy()
    tau = tau_of(obs, b)
    after_cut = tau >= 50
    assert after_cut.any()
    # rows of the new time line that precede any episode start: padding from the first stack, not old frames
    np.testing.assert_array_equal(obs, stream.obs[tau, b])
    with pytest.raises(ShapeMismatchError, match="n_frames"):
        FrameReplayBuffer(dict(observation=np.zeros(4, np.float32), action=np.int64(0)), size=40, B=2)
    bad = dict(ex, observation=np.zeros((K + 1,) + FRAME, np.float32))
    with pytest.raises(ShapeMismatchError, match="observation"):
        FrameReplayBuffer(bad, size=40, B=B).append_samples(stream.batch(0, T))
