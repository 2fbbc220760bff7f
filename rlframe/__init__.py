"""rlframe: a parallel reinforcement-learning framework for PyTorch in the style of rlpyt,
with chip macro placement as its flagship environment.

``import rlframe`` registers the placement env with gymnasium (lazily: the env's module loads on the
first ``gymnasium.make("rlframe/MacroPlacement-v0", ...)``), and the partially observed control tasks of
``rlframe.envs.pomdp`` (``rlframe/CartPolePOMDP-v1`` and friends, same lazy entry point).
"""

__version__ = "0.1.0"


def _register_envs() -> None:
    import gymnasium

    if "rlframe/MacroPlacement-v0" not in gymnasium.registry:
        gymnasium.register(id="rlframe/MacroPlacement-v0", entry_point="rlframe.placement.env.env:MacroPlacementEnv")
    # (id, wrapped env, observation entries kept, reward_threshold): velocities hidden; docs in rlframe/envs/pomdp.py.
    # Thresholds: the wrapped env's (CartPole 475, Acrobot -100); Pendulum-v1 has none, -200 is rlframe's.
    for env_id, base_id, keep, threshold in (("rlframe/CartPolePOMDP-v1", "CartPole-v1", [0, 2], 475.0),
                                             ("rlframe/AcrobotPOMDP-v1", "Acrobot-v1", [0, 1, 2, 3], -100.0),
                                             ("rlframe/PendulumPOMDP-v1", "Pendulum-v1", [0, 1], -200.0),
                                             ("rlframe/MaskedObservation-v0", None, None, None)):
        if env_id not in gymnasium.registry:
            kwargs = {} if base_id is None else {"env_id": base_id, "keep": keep}
            gymnasium.register(id=env_id, entry_point="rlframe.envs.pomdp:make_masked", kwargs=kwargs,
                               reward_threshold=threshold)
    # memory tasks no feed-forward policy solves (rlframe/envs/pomdp.py)
    for env_id, cls in (("rlframe/TMaze-v0", "TMazeEnv"), ("rlframe/RepeatFirst-v0", "RepeatFirstEnv")):
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=f"rlframe.envs.pomdp:{cls}", reward_threshold=0.9)


_register_envs()
