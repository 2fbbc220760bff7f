"""SIGTERM inside terminate_as_interrupt raises Terminated (a KeyboardInterrupt) once; the old handler comes back."""
import os
import signal
import time

import pytest

from rlframe.launching.signals import EXIT_SIGINT, EXIT_SIGTERM, Terminated, exit_status, terminate_as_interrupt


def test_sigterm_raises_terminated_once_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        with terminate_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # interrupted at once
    assert signal.getsignal(signal.SIGTERM) is before
    with terminate_as_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except Terminated:
            os.kill(os.getpid(), signal.SIGTERM)  # while stopping: ignored, the clean-up finishes
            time.sleep(0.05)
    assert exit_status(Terminated()) == EXIT_SIGTERM and exit_status(KeyboardInterrupt()) == EXIT_SIGINT
    assert isinstance(Terminated(), KeyboardInterrupt)
