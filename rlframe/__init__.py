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
        gymnasium.register(id="rlframe/MacroPlacement-v0", entry_point="rlframe.envs.placement.env:MacroPlacementEnv")
    # (id, wrapped env, observation entries kept): velocities hidden; table and docs in rlframe/envs/pomdp.py
    for env_id, base_id, keep in (("rlframe/CartPolePOMDP-v1", "CartPole-v1", [0, 2]),
                                  ("rlframe/AcrobotPOMDP-v1", "Acrobot-v1", [0, 1, 2, 3]),
                                  ("rlframe/PendulumPOMDP-v1", "Pendulum-v1", [0, 1]),
                                  ("rlframe/MaskedObservation-v0", None, None)):
        if env_id not in gymnasium.registry:
            kwargs = {} if base_id is None else {"env_id": base_id, "keep": keep}
            gymnasium.register(id=env_id, entry_point="rlframe.envs.pomdp:make_masked", kwargs=kwargs)


_register_envs()
