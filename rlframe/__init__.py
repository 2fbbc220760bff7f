"""rlframe: a parallel reinforcement-learning framework for PyTorch in the style of rlpyt,
with chip macro placement as its flagship environment.

``import rlframe`` registers the placement env with gymnasium (lazily: the env's module loads on the
first ``gymnasium.make("rlframe/MacroPlacement-v0", ...)``).
"""

__version__ = "0.1.0"


def _register_envs() -> None:
    import gymnasium

    if "rlframe/MacroPlacement-v0" not in gymnasium.registry:
        gymnasium.register(id="rlframe/MacroPlacement-v0", entry_point="rlframe.placement.env.env:MacroPlacementEnv")


_register_envs()
