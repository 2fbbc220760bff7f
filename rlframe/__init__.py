"""rlframe: a parallel reinforcement-learning framework for PyTorch in the style of rlpyt,
with chip macro placement as its flagship environment."""

__version__ = "0.1.0"
