"""The image observation's fast build (one compiled pass, and its numpy path) gives exactly the
observations of the original numpy build, step by step over whole episodes, and observations handed
out are never changed afterwards."""
import numpy as np
import pytest

from rlframe.placement import MacroPlacementEnv


def reference_image(view, state):
    """The image build as it was before the compiled pass (git 85dfacc), kept verbatim."""
    p = view.p
    g = p.grid
    img = np.empty(view.shape, np.float32)
    mask = state.mask().reshape(g.rows, g.cols)
    img[0] = mask
    wire = state.wire_mask()
    if mask.any():
        feas = wire[mask]
        lo, hi = feas.min(), feas.max()
        norm = (wire - lo) / (hi - lo) if hi > lo else np.zeros_like(wire)
        img[1] = np.where(mask, norm, 1.0)
    else:
        img[1] = 1.0
    np.clip(state.occupancy, 0.0, 1.0, out=img[2])
    macro = np.zeros(4, np.float32)
    if not state.done:
        macro[0] = p.macro_w[state.k] / g.width
        macro[1] = p.macro_h[state.k] / g.height
    macro[2] = state.k / max(p.n_macros, 1)
    macro[3] = float(state.occupancy.sum()) * g.cell_width * g.cell_height / view.canvas_area
    np.clip(macro, 0.0, 1.0, out=macro)
    return {"image": img, "macro": macro, "action_mask": state.mask().astype(np.int8)}


def assert_same(obs, ref):
    for key, want in ref.items():
        assert obs[key].dtype == want.dtype, key
        # bit for bit (also tells -0.0 from 0.0)
        assert obs[key].tobytes() == want.tobytes(), key


def random_action(env, rng):
    cells = np.flatnonzero(env.action_masks())
    return int(cells[rng.integers(len(cells))])


def greedy_action(env, rng):
    st = env.state
    return int(np.argmin(np.where(st.mask(), st.wire_mask().ravel(), np.inf)))


@pytest.mark.parametrize("design", ["ariane133", "macro_tiles_10x10"])
@pytest.mark.parametrize("policy", [random_action, greedy_action])
@pytest.mark.parametrize("compiled", [True, False])
def test_image_build_equals_the_original_at_every_step(design, policy, compiled):
    env = MacroPlacementEnv(design=design, observation="both", run_fd=False)
    view = env._views[0]
    if compiled and not view.compiled:
        pytest.skip("numba is not installed")
    view.compiled = compiled
    rng = np.random.default_rng(1)
    for seed in range(2):
        obs, info = env.reset(seed=seed)
        kept = [(obs, {k: v.copy() for k, v in obs.items()})]
        assert_same(obs, reference_image(view, env.state))
        done, steps = False, 0
        while not done:
            obs, _, term, trunc, info = env.step(policy(env, rng))
            assert_same(obs, reference_image(view, env.state))
            np.testing.assert_array_equal(info["action_mask"], obs["action_mask"])
            assert info["action_mask"] is not obs["action_mask"]
            kept.append((obs, {k: v.copy() for k, v in obs.items()}))
            done, steps = term or trunc, steps + 1
        assert steps == env.state.k and steps > 1
        # every observation handed out during the episode is still what it was when handed out
        for handed, copy in kept:
            for k in copy:
                assert handed[k].tobytes() == copy[k].tobytes(), k
