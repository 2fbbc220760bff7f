"""The per-env recurrent state every recurrent agent keeps between ``step`` calls (PG and R2D1 agents).

A recurrent agent's model takes and returns its state explicitly (``rlframe.models.rnn``). The agent keeps
the state of its ``B`` envs between steps, zeroes env ``b``'s on ``reset_one(b)`` (the collector calls it
when that env resets) and all of them on ``reset()``, and reports the state it *acted from* in
``agent_info.prev_rnn_state``: so the state is stored in the samples (and in replays) with leading ``[T, B]``
like every other field, and an algorithm restarts its sequences from what was stored
(``agent_info.prev_rnn_state[0]``), as rlpyt's recurrent agents and R2D2's stored state do.

Evaluation envs are other envs: the state of the eval collector's envs lives in its own slot (chosen by
``eval_mode``), so an evaluation between two training batches does not disturb the training envs' state.
"""
from __future__ import annotations

from typing import Any, Dict

import torch

from rlframe.errors import ConfigError


class RecurrentStateMixin:
    """State keeping for recurrent agents (mix in before the agent class; the model needs ``zero_state(B)``)."""

    recurrent = True
    _rnn_states: Dict[str, Any]

    def _slot(self) -> str:
        return "eval" if self._mode == "eval" else "sample"

    def _slots(self) -> Dict[str, Any]:
        if "_rnn_states" not in self.__dict__:
            self._rnn_states = {"sample": None, "eval": None}
        return self._rnn_states

    def reset(self) -> None:
        """Zero the state of every env (of the current slot: sampling or evaluation)."""
        self._slots()[self._slot()] = None

    def reset_one(self, idx: int) -> None:
        """Zero env ``idx``'s state (its episode ended)."""
        state = self._slots()[self._slot()]
        if state is not None:
            for field in state:
                field[idx] = 0

    def current_rnn_state(self, B: int):
        """The state the next step of ``B`` envs starts from (zeros after a reset), on the model's device."""
        state = self._slots()[self._slot()]
        if state is not None and state.h.shape[0] != B:
            raise ConfigError(
                f"{type(self).__name__}: called with {B} envs while it holds the recurrent state of "
                f"{state.h.shape[0]}; a recurrent agent steps (and values) all of its envs together. "
                "Call agent.reset() before stepping another set of envs."
            )
        if state is None:
            return self._model().zero_state(B, self.device)
        if state.h.device != self.device:
            state = type(state)(*(x.to(self.device) for x in state))
        return state

    def advance_rnn_state(self, next_state: Any) -> None:
        """Keep ``next_state`` (the model's output state) for the next step."""
        self._slots()[self._slot()] = next_state

    def sampling_state_dict(self) -> Dict[str, Any]:
        """The recurrent state of the sampling and the evaluation envs (tensors, None after a reset)."""
        slots = self._slots()
        return {"rnn_state": {slot: None if st is None else [x.detach().clone().cpu() for x in st]
                              for slot, st in slots.items()}}

    def load_sampling_state_dict(self, state: Dict[str, Any]) -> None:
        slots = self._slots()
        for slot, saved in state.get("rnn_state", {}).items():
            if saved is None:
                slots[slot] = None
                continue
            cls = type(self._model().zero_state(1, self.device))
            slots[slot] = cls(*(x.to(self.device) for x in saved))

    def _model(self) -> Any:
        model = self.model
        return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def sequence_reset(done: Any) -> torch.Tensor:
    """``[T, B]`` bool: where a stored sequence's state must be zeroed before step ``t`` (``done[t-1]``; never at
    ``t = 0``, whose stored ``prev_rnn_state`` already is the state after any reset)."""
    done = torch.as_tensor(done).bool()
    reset = torch.zeros_like(done)
    reset[1:] = done[:-1]
    return reset

