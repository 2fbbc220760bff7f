"""Shared pytest set-up: make ``tests.helpers`` (RandomAgent, small test envs) importable; the
``one_torch_thread`` fixture."""
import os
import sys

import pytest
import torch

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


@pytest.fixture
def one_torch_thread():
    """One torch thread, as the runners use for small networks: torch's default pool on a loaded 2-core machine
    made a 16-unit network's update 10-30x slower. Directories whose tests all need it use it autouse."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
