"""The env contract every collector relies on.

An rlframe env (``GymEnv`` adapts any gymnasium env to it) has ``spaces`` (an :class:`EnvSpaces`),
``reset() -> observation``, ``step(action) -> EnvStep`` and ``close()``. Observations of Dict/Tuple
spaces are namedarraytuples. ``step`` never auto-resets: the observation in an ``EnvStep`` whose
``terminated`` or ``truncated`` is set is the true final observation (for bootstrapping on truncation);
collectors call ``reset()`` themselves.

An env contributes its own episode metrics and images to the logs through one hook,
:class:`EpisodeMetrics`, named in its ``metadata`` (see there).

:class:`Env` declares the contract as a base class, with the state API an exact resume uses
(``get_state`` / ``set_state``, docs/scaling.md "Resume guarantees").
"""
from __future__ import annotations

import pickle
from collections import namedtuple
from typing import Any, Dict, Mapping, Optional, Sequence

from rlframe.errors import EnvStateError

EnvSpaces = namedtuple("EnvSpaces", ["observation", "action"])
EnvSpaces.__doc__ = "The gymnasium observation and action spaces of an env."

EnvStep = namedtuple("EnvStep", ["observation", "reward", "terminated", "truncated", "env_info"])
EnvStep.__doc__ = "One env transition; ``env_info`` is a namedtuple with fixed fields (see GymEnv)."


class Env:
    """Base class of rlframe's single envs (``GymEnv`` and any env written for rlframe directly).

    The contract collectors rely on: ``id`` (names the env in messages), ``spaces`` (an :class:`EnvSpaces`),
    ``reset() -> observation``, ``step(action) -> EnvStep`` (never auto-resets), ``close()``; and the state an
    exact resume saves with every checkpoint (``samplers.base.BaseSampler.state_dict``):

    - :meth:`get_state` returns everything the env's future depends on (its simulator state, its random
      generators, its time-limit counter) as bytes; :meth:`set_state` makes the env continue from such bytes,
      so a resumed run steps exactly the episodes the uninterrupted run would have stepped.
    - The default pickles the instance's attributes, which covers envs holding plain Python/numpy state. An
      env that cannot be saved raises :class:`~rlframe.errors.EnvStateError` (saying why); the sampler then
      warns, naming the env, and the resumed run resets that env (a new episode) instead.

    ``set_state`` unpickles: resume only run directories you trust (as with any pickle). Reading a
    checkpoint (``torch.load(weights_only=True)``, ``rlframe checkpoint``) never unpickles these bytes.
    """

    id: str = "env"
    spaces: EnvSpaces

    def reset(self) -> Any:
        raise NotImplementedError

    def step(self, action: Any) -> EnvStep:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the env holds; idempotent."""

    def get_state(self) -> bytes:
        """The env's whole state as bytes (default: the pickled instance attributes); raises
        :class:`~rlframe.errors.EnvStateError` naming why when it cannot be saved."""
        return pickle_state(self.__dict__, self.id)

    def set_state(self, state: bytes) -> None:
        """Continue from :meth:`get_state`'s bytes (of an env made with the same arguments)."""
        self.__dict__.update(pickle.loads(state))


def pickle_state(obj: Any, env_id: str) -> bytes:
    """``pickle.dumps(obj)``, or :class:`~rlframe.errors.EnvStateError` naming ``env_id`` and pickle's reason."""
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # noqa: BLE001 - pickle raises TypeError, AttributeError, PicklingError ...
        raise EnvStateError(f"env '{env_id}' does not pickle ({type(e).__name__}: {e})") from e


#: Key of a gymnasium env's ``metadata`` naming its :class:`EpisodeMetrics` (a class or ``"module:Class"``).
EPISODE_METRICS_KEY = "rlframe.episode_metrics"


class EpisodeMetrics:
    """The one hook through which an env contributes its own episode metrics to the logs.

    The runner logs, at every log interval, the generic statistics of the finished episodes
    (``rollout/return_mean``, and ``{group}/<field>`` = mean of each numeric field of the final env
    info, ``rlframe.logging.metrics.traj_stats``). An env that wants more names a subclass of this class
    in its gymnasium ``metadata[EPISODE_METRICS_KEY]`` (resolved by ``rlframe.envs.gym.episode_metrics_for``
    without making an env); the runner then hands it the episodes and the generic statistics
    (:meth:`scalars`: regroup, filter or add tags) and asks it for images at every log interval
    (:meth:`images`). The default keeps the generic statistics and adds no image.

    Args:
        env_kwargs: the keyword arguments the training envs are made with (e.g. to make a rendering env).
    """

    def __init__(self, env_kwargs: Optional[Mapping[str, Any]] = None):
        self.env_kwargs = dict(env_kwargs or {})

    def scalars(self, episodes: Sequence[Mapping[str, Any]], group: str,
                stats: Dict[str, float]) -> Dict[str, float]:
        """The scalars to log for ``episodes`` (dicts of TrajInfo fields) in tag group ``group``
        (``"rollout"`` or ``"eval"``), given the generic ``stats`` of the same episodes."""
        return stats

    def images(self, agent: Any, itr: int) -> Dict[str, Any]:
        """Images (``[H, W, 3]`` uint8 arrays) to log at the current log interval, by tag; ``agent`` is the
        agent being trained (whatever mode it is in; the runner sets its mode again before sampling)."""
        return {}

    def close(self) -> None:
        """Release whatever :meth:`images` made (envs); called once training ends."""
