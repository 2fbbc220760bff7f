"""Action distributions: categorical (masked), diagonal gaussian (tanh-squashed too), epsilon-greedy."""
from rlframe.distributions.base import Distribution, valid_mean
from rlframe.distributions.categorical import MASK_VALUE, Categorical, DistInfo, mask_logits
from rlframe.distributions.epsilon_greedy import EpsilonGreedy
from rlframe.distributions.gaussian import DistInfoStd, Gaussian
from rlframe.distributions.tanh_gaussian import TanhGaussian

__all__ = [
    "Distribution", "valid_mean", "Categorical", "DistInfo", "mask_logits", "MASK_VALUE",
    "Gaussian", "DistInfoStd", "EpsilonGreedy", "TanhGaussian",
]
