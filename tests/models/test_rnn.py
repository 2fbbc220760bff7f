"""LSTM models: state resets inside a sequence, step-by-step == sequence, shape errors, dueling Q."""
import pytest
import torch

from rlframe.errors import ShapeMismatchError
from rlframe.models.rnn import (LstmBody, RecurrentCategoricalPgModel, RecurrentDuelingQModel,
                                RecurrentGaussianPgModel, RnnState, lstm_sequence)


def _stepwise(lstm, x, state, reset):
    """Reference: one LSTM step at a time, zeroing the state by hand where ``reset``."""
    h, c = state
    outs = []
    for t in range(x.shape[0]):
        keep = (~reset[t]).float().view(1, -1, 1)
        h, c = h * keep, c * keep
        out, (h, c) = lstm(x[t:t + 1], (h, c))
        outs.append(out)
    return torch.cat(outs), (h, c)


def test_lstm_sequence_resets_the_state_of_each_env_where_told():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 5, num_layers=2)
    T, B = 9, 4
    x = torch.randn(T, B, 3)
    state = (torch.randn(2, B, 5), torch.randn(2, B, 5))
    reset = torch.zeros(T, B, dtype=torch.bool)
    reset[3, 1] = reset[3, 2] = reset[6, 0] = reset[8, 1] = True
    out, (h, c) = lstm_sequence(lstm, x, state, reset)
    ref_out, (ref_h, ref_c) = _stepwise(lstm, x, state, reset)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(h, ref_h)
    torch.testing.assert_close(c, ref_c)
    # env 3 never resets: its outputs are those of one uninterrupted sequence
    torch.testing.assert_close(out[:, 3], lstm(x[:, 3:4], (state[0][:, 3:4], state[1][:, 3:4]))[0][:, 0])
    # a reset erases everything before it: env 1 after t=8 depends on x[8] only
    fresh, _ = lstm(x[8:9, 1:2], (torch.zeros(2, 1, 5), torch.zeros(2, 1, 5)))
    torch.testing.assert_close(out[8, 1], fresh[0, 0])


@pytest.mark.parametrize("Model, n_out", [(RecurrentCategoricalPgModel, 3), (RecurrentGaussianPgModel, 4),
                                          (RecurrentDuelingQModel, 2)])
def test_stepping_one_step_at_a_time_equals_the_sequence_forward(Model, n_out):
    """What the agent computes while sampling (``[B]`` steps) is what training recomputes (``[T, B]``)."""
    torch.manual_seed(1)
    model = Model(observation_shape=(2,), action_size=3 if Model is not RecurrentGaussianPgModel else 2)
    T, B = 6, 3
    obs = torch.randn(T, B, 2)
    prev_action = torch.randint(0, 2, (T, B)) if Model is not RecurrentGaussianPgModel else torch.randn(T, B, 2)
    prev_reward = torch.randn(T, B)
    reset = torch.zeros(T, B, dtype=torch.bool)
    reset[2, 0] = reset[4, 2] = True
    state = model.zero_state(B)
    init = state
    step_outs = []
    for t in range(T):
        state = RnnState(*(s * (~reset[t]).float().view(B, 1, 1) for s in state))
        *out, state = model(obs[t], prev_action[t], prev_reward[t], state)
        step_outs.append(out)
    *seq_out, seq_state = model(obs, prev_action, prev_reward, init, reset)
    assert len(seq_out) == n_out - 1
    for i, o in enumerate(seq_out):
        torch.testing.assert_close(o, torch.stack([s[i] for s in step_outs]))
    torch.testing.assert_close(seq_state.h, state.h)


def test_state_shape_mismatch_names_the_model_and_both_shapes():
    model = RecurrentCategoricalPgModel(observation_shape=(2,), action_size=2, lstm_size=8)
    bad = RnnState(torch.zeros(3, 1, 16), torch.zeros(3, 1, 16))
    with pytest.raises(ShapeMismatchError) as e:
        model(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), torch.zeros(3), bad)
    msg = str(e.value)
    assert "RecurrentCategoricalPgModel" in msg and "(3, 2, 8)" in msg and "(3, 1, 16)" in msg  # actor + critic LSTMs


def test_observation_shape_mismatch_is_caught():
    model = RecurrentDuelingQModel(observation_shape=(2,), action_size=2)
    with pytest.raises(ShapeMismatchError, match="RecurrentDuelingQModel"):
        model(torch.zeros(3, 4), torch.zeros(3, dtype=torch.long), torch.zeros(3))


def test_dueling_head_centres_the_advantages():
    torch.manual_seed(0)
    model = RecurrentDuelingQModel(observation_shape=(2,), action_size=3, prev_action=False, prev_reward=False)
    obs = torch.randn(4, 5, 2)
    q, _ = model(obs)
    x, *_ = model.body(obs)
    assert q.shape == (4, 5, 3)
    # Q = V + A - mean(A): the mean over actions is V
    torch.testing.assert_close(q.mean(-1), model.value_head(x).view(4, 5))


def test_gradients_flow_through_time():
    model = LstmBody(observation_shape=(2,), fc_sizes=(), hidden_size=4)
    obs = torch.randn(5, 2, 2, requires_grad=True)
    out, *_ = model(obs)
    out.view(5, 2, -1)[-1].sum().backward()
    assert obs.grad[0].abs().sum() > 0  # the last output depends on the first observation
