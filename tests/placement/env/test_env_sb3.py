"""The placement env as a plain gymnasium env for a third-party library (Stable-Baselines3)."""
import gymnasium
import pytest

import rlframe.placement  # noqa: F401  (registers the env)

sb3 = pytest.importorskip("stable_baselines3")


def test_sb3_ppo_multi_input_policy_learns_a_few_steps():
    env = gymnasium.make("rlframe/MacroPlacement-v0", design="toy_macro_stdcell",
                         infeasible_action="penalty", max_episode_steps=8)
    model = sb3.PPO("MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0,
                    device="cpu", policy_kwargs=dict(net_arch=[32]))
    model.learn(200)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action))
