"""One torch thread in these tests, as the runners use for small networks (two threads on a loaded 2-core
machine made a 16-unit network's update 10-30x slower)."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
