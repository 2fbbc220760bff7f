"""Torch models: MLP, conv, observation encoders, actor-critic models for policy gradients, Q-networks."""
from rlframe.models.conv import Conv2dModel, ConvEncoder
from rlframe.models.dqn import CatDqnConvModel, CatDqnMlpModel, DqnConvModel, DqnMlpModel, QHead, QModel
from rlframe.models.mlp import MlpModel, orthogonal_init
from rlframe.models.observation import FlatObservationEncoder, observation_shape_from_space
from rlframe.models.placement import CellConvPolicy
from rlframe.models.pg import ActorCriticModel, CategoricalPgConvModel, CategoricalPgMlpModel, GaussianPgMlpModel

__all__ = [
    "MlpModel", "orthogonal_init", "Conv2dModel", "ConvEncoder", "FlatObservationEncoder",
    "observation_shape_from_space", "ActorCriticModel", "CategoricalPgMlpModel", "GaussianPgMlpModel",
    "CategoricalPgConvModel", "CellConvPolicy", "QHead", "QModel", "DqnMlpModel", "DqnConvModel", "CatDqnMlpModel",
    "CatDqnConvModel",
]
