"""The DQN family's target maths against hand computations."""
import torch

from rlframe.algos.dqn.targets import categorical_projection, huber, q_learning_target


def test_dqn_target_takes_the_target_networks_max():
    target_q = torch.tensor([[1.0, 3.0, 2.0], [0.5, -1.0, 4.0]])
    y = q_learning_target(torch.tensor([1.0, 2.0]), torch.tensor([0.9, 0.0]), target_q)
    assert torch.allclose(y, torch.tensor([1.0 + 0.9 * 3.0, 2.0]))  # second sample: terminated, no bootstrap


def test_double_dqn_selects_with_online_and_evaluates_with_target():
    target_q = torch.tensor([[1.0, 3.0, 2.0]])
    online_q = torch.tensor([[0.0, 1.0, 5.0]])  # online prefers action 2; the target values it 2.0
    y = q_learning_target(torch.tensor([0.5]), torch.tensor([0.99 ** 3]), target_q, online_q)
    assert torch.allclose(y, torch.tensor([0.5 + 0.99 ** 3 * 2.0]))


def test_target_respects_action_mask_of_next_state():
    target_q = torch.tensor([[10.0, 3.0, 2.0]])
    mask = torch.tensor([[0, 1, 1]])
    assert torch.allclose(q_learning_target(torch.zeros(1), torch.ones(1), target_q, mask=mask), torch.tensor([3.0]))
    online_q = torch.tensor([[9.0, 1.0, 5.0]])
    assert torch.allclose(q_learning_target(torch.zeros(1), torch.ones(1), target_q, online_q, mask),
                          torch.tensor([2.0]))


def test_categorical_projection_hand_computed():
    atoms = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])  # dz = 1
    next_p = torch.tensor([[0.1, 0.2, 0.3, 0.2, 0.2]])
    # r = 0.5, gamma = 0.5: Tz = [-0.5, 0, 0.5, 1, 1.5]
    #   -0.5 -> half to -1, half to 0 ; 0 -> 0 ; 0.5 -> half to 0, half to 1 ; 1 -> 1 ; 1.5 -> half to 1, half to 2
    expected = torch.tensor([[0.0, 0.05, 0.05 + 0.2 + 0.15, 0.15 + 0.2 + 0.1, 0.1]])
    got = categorical_projection(next_p, torch.tensor([0.5]), torch.tensor([0.5]), atoms)
    assert torch.allclose(got, expected, atol=1e-6)


def test_categorical_projection_clips_to_support_and_terminal_is_a_point_mass():
    atoms = torch.linspace(-10, 10, 51)
    next_p = torch.softmax(torch.randn(3, 51), -1)
    got = categorical_projection(next_p, torch.tensor([3.2, 50.0, -50.0]), torch.tensor([0.0, 0.99, 0.99]), atoms)
    assert torch.allclose(got.sum(-1), torch.ones(3), atol=1e-5)
    # terminated (discount 0) at r = 3.2, itself an atom: all the mass there
    assert torch.isclose(got[0, 33], torch.tensor(1.0), atol=1e-5)  # atoms[33] = 3.2
    assert torch.isclose(got[1, -1], torch.tensor(1.0), atol=1e-5)  # clipped to v_max
    assert torch.isclose(got[2, 0], torch.tensor(1.0), atol=1e-5)  # clipped to v_min


def test_categorical_projection_preserves_the_mean_inside_the_support():
    torch.manual_seed(0)
    atoms = torch.linspace(-10, 10, 51)
    next_p = torch.softmax(torch.randn(64, 51) * 0.1, -1)
    r, g = torch.rand(64) - 0.5, torch.full((64,), 0.5)
    got = categorical_projection(next_p, r, g, atoms)
    assert torch.allclose(got @ atoms, r + g * (next_p @ atoms), atol=1e-4)


def test_huber():
    d = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0])
    assert torch.allclose(huber(d), torch.tensor([2.5, 0.125, 0.0, 0.125, 2.5]))
    assert torch.allclose(huber(d, 2.0), torch.tensor([4.0, 0.125, 0.0, 0.125, 4.0]))  # 2 * (3 - 2 / 2)
    assert torch.allclose(huber(d, None), 0.5 * d ** 2)


def test_categorical_projection_equals_the_closeness_weighted_sum():
    """The scatter implementation against the definition m_i = sum_j p_j max(0, 1 - |Tz_j - z_i| / dz)."""
    torch.manual_seed(0)
    atoms = torch.linspace(-10, 10, 51)
    next_p = torch.softmax(torch.randn(500, 51), -1)
    r, g = torch.randn(500) * 8, torch.rand(500)
    g[:50] = 0.0
    r[:25] = torch.randint(-10, 11, (25,)).float()  # shifted atoms exactly on atoms
    tz = (r[:, None] + g[:, None] * atoms).clamp(-10, 10)
    weight = (1 - (tz[:, None, :] - atoms[None, :, None]).abs() / 0.4).clamp_min(0)  # [N, K_i, K_j]
    expected = (weight * next_p[:, None, :]).sum(-1)
    assert torch.allclose(categorical_projection(next_p, r, g, atoms), expected, atol=1e-5)
