"""All of rlframe's error types, in one place.

Every error a user can hit says what was wrong and what to change.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence


class RlframeError(Exception):
    """Base class of every rlframe-specific error."""


class ShapeMismatchError(RlframeError, ValueError):
    """A shape (or dtype, or value range) disagreement between two components.

    The message names the component (env id, model class, checkpoint path, buffer),
    the field, the expected and the actual shape, and what to change.
    """

    def __init__(
        self,
        component: str,
        field: str,
        expected: Any,
        actual: Any,
        hint: str = "",
        detail: str = "",
    ):
        self.component = component
        self.field = field
        self.expected = expected
        self.actual = actual
        self.hint = hint
        self.detail = detail
        msg = f"{component}: field '{field}' expected {_fmt(expected)} but got {_fmt(actual)}"
        if detail:
            msg += f" ({detail})"
        msg += "."
        if hint:
            msg += f" Fix: {hint}"
        super().__init__(msg)


def _fmt(x: Any) -> str:
    if isinstance(x, tuple) and all(isinstance(d, (int,)) or hasattr(d, "__index__") for d in x):
        return "shape (" + ", ".join(str(int(d)) for d in x) + ("," if len(x) == 1 else "") + ")"
    return str(x)


class WorkerError(RlframeError, RuntimeError):
    """A sampler worker failed: raised, was killed or stopped answering.

    Carries the worker ``rank``, the ``env_index`` (when known), the original exception
    type name and the worker's traceback text.
    """

    def __init__(
        self,
        message: str,
        rank: Optional[int] = None,
        env_index: Optional[int] = None,
        exc_type: Optional[str] = None,
        traceback_text: str = "",
        exitcode: Optional[int] = None,
    ):
        self.rank = rank
        self.env_index = env_index
        self.exc_type = exc_type
        self.traceback_text = traceback_text
        self.exitcode = exitcode
        full = message
        if traceback_text:
            full += "\n--- worker traceback ---\n" + traceback_text.rstrip()
        super().__init__(full)


class ConfigError(RlframeError, ValueError):
    """An inconsistent or impossible configuration (batch sizes, affinity, arguments)."""


class CheckpointError(RlframeError, RuntimeError):
    """A checkpoint cannot be written, read or applied."""


class SharedMemoryError(RlframeError, MemoryError):
    """Not enough shared memory (/dev/shm) for the sampler buffers."""


class NetlistParseError(RlframeError, ValueError):
    """A netlist or .plc file is malformed; the message names the file and line."""

    def __init__(self, path: str, line: int, message: str):
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


class InfeasibleActionError(RlframeError, ValueError):
    """A placement action put the current macro on a cell where it does not fit (see the action mask)."""


def join_shape(shape: Sequence[int]) -> tuple:
    return tuple(int(s) for s in shape)


class EnvTimeoutError(RlframeError, TimeoutError):
    """An env call (``reset``, ``step``) made in the master process did not return within its timeout.

    Raised by the pre-flight probe and by the serial sampler's watchdog (``samplers.watchdog``); hangs
    inside parallel sampler workers surface as :class:`WorkerError` with ``exc_type == "Timeout"``.
    """

    def __init__(self, message: str = "an env call did not return within its timeout.", env: str = "",
                 call: str = "", timeout: Optional[float] = None):
        self.env, self.call, self.timeout = env, call, timeout
        super().__init__(message)


class NonFiniteError(RlframeError, FloatingPointError):
    """A loss, gradient norm or batch statistic became NaN or infinite during training (``algos.finite``)."""

    def __init__(self, message: str, quantity: str = "", itr: Optional[int] = None, env_steps: Optional[int] = None):
        self.quantity, self.itr, self.env_steps = quantity, itr, env_steps
        super().__init__(message)


class EnvStateError(RlframeError, RuntimeError):
    """An env's state cannot be saved for an exact resume (``rlframe.envs.base.Env.get_state``): it does not
    pickle, or the env class keeps no state API. The sampler then warns, naming the env, and a resumed run resets
    that env instead of continuing its episode."""


class ResumeWarning(UserWarning):
    """A resumed run will not continue bit-exactly: a piece of state was not saved (an env that does not
    pickle, a parallel sampler's envs, a replay without ``save_replay``); the message names it and what the
    resumed run does instead (docs/scaling.md, "Resume guarantees")."""
