"""The algorithm contract: turn a batch of samples into gradient steps on the agent."""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Dict, Optional, Tuple


class RlAlgorithm:
    """Base of every algorithm.

    Runners call :meth:`initialize` once, then ``optimize_agent(itr, samples)`` each iteration;
    the returned ``OptInfo`` is a namedtuple of lists (one entry per gradient step) whose fields are
    logged as ``train/<field>``.
    """

    opt_info_fields: Tuple[str, ...] = ()
    bootstrap_value = False  # PG algorithms ask samplers for the value of the last observation
    final_observation = False  # Q-learning asks samplers for samples.env.final_observation (true s' at ends)
    update_counter = 0
    replay: Optional[Any] = None  # replay-based algorithms (algos/replay_base.py) keep their replay here

    def log_values(self) -> Dict[str, float]:
        """Scalars beyond ``train/*`` that runners log at each interval (e.g. ``replay/size``); none here."""
        return {}

    def initialize(self, agent, n_itr: int, batch_spec, mid_batch_reset: bool = False,
                   examples: Optional[Any] = None, world_size: int = 1, rank: int = 0) -> None:
        raise NotImplementedError

    def optimize_agent(self, itr: int, samples) -> Any:
        raise NotImplementedError

    def optim_state_dict(self) -> Dict[str, Any]:
        return self.optimizer.state_dict()

    def load_optim_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict)

    @classmethod
    def make_opt_info(cls):
        """An empty OptInfo (lists per field)."""
        OptInfo = namedtuple("OptInfo", cls.opt_info_fields)
        return OptInfo(*([] for _ in cls.opt_info_fields))
