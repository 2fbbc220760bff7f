"""SIGTERM handled like Ctrl-C: the same clean shutdown, for runs stopped by a batch scheduler or ``kill``.

Ctrl-C raises ``KeyboardInterrupt`` in the master, and everything rlframe holds is released on the way
out: the runner's ``finally`` shuts the sampler down (workers stopped, shared memory freed), checkpoints
are written atomically (``logging.checkpoint``), ``logger_context`` closes the run's files. SIGTERM's
default action kills the process on the spot instead (exit -15, no message, multiprocessing's temp
directories left behind). Inside :func:`terminate_as_interrupt` SIGTERM raises :class:`Terminated`, a
``KeyboardInterrupt``, so the same clean-up runs; a second SIGTERM while stopping is ignored rather than
interrupting the clean-up. The launch scripts wrap their ``main`` in it (``experiments/common.py``).
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

EXIT_SIGINT = 130  # 128 + SIGINT, what shells report for a Ctrl-C'd program
EXIT_SIGTERM = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised in the main thread like Ctrl-C's ``KeyboardInterrupt``."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def on_sigterm(signum, frame):
        if fired:
            return  # already stopping: let the clean-up finish
        fired.append(signum)
        raise Terminated()

    old = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def exit_status(e: KeyboardInterrupt) -> int:
    """The shell's exit status for an interruption: 143 for SIGTERM, 130 for Ctrl-C."""
    return EXIT_SIGTERM if isinstance(e, Terminated) else EXIT_SIGINT
