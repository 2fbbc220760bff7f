"""One torch thread in these tests, as the runners use for small networks (two threads on a loaded 2-core
machine made a 16-unit network's update 10-30x slower)."""
import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):  # tests/conftest.py
    yield
