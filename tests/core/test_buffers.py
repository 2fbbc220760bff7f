"""Buffers from examples: plain and shared memory, zero-copy torch/numpy views."""
import numpy as np
import pytest
import torch

from rlframe.core.buffers import (
    buffer_from_example, buffer_nbytes, get_leading, numpify, torch_buffer_from_example, torchify,
)
from rlframe.core.namedarraytuple import namedarraytuple

Ex = namedarraytuple("BufEx", ["obs", "reward", "flag", "info"])
Info = namedarraytuple("BufInfo", ["cost"])


def example():
    return Ex(np.zeros((3, 2), np.uint8), 1.0, np.bool_(False), Info(np.int32(4)))


def test_plain_buffer_shapes_dtypes():
    buf = buffer_from_example(example(), (4, 5))
    assert buf.obs.shape == (4, 5, 3, 2) and buf.obs.dtype == np.uint8
    assert buf.reward.dtype == np.float32 and buf.flag.dtype == np.bool_ and buf.info.cost.dtype == np.int32
    assert get_leading(buf)[:2] == (4, 5)
    assert buffer_nbytes(buf) == 4 * 5 * (6 + 4 + 1 + 4)


def test_torchify_numpify_zero_copy():
    buf = buffer_from_example(example(), (2, 2))
    tb = torchify(buf)
    tb.reward[1, 1] = 3.5
    assert buf.reward[1, 1] == 3.5
    back = numpify(tb)
    back.info.cost[0, 0] = 9
    assert buf.info.cost[0, 0] == 9


def test_shared_buffer_is_shared_memory():
    tb = torch_buffer_from_example(example(), (2, 3), share_memory=True)
    assert tb.obs.is_shared() and tb.info.cost.is_shared()
    nb = buffer_from_example(example(), (2, 3), share_memory=True)
    assert nb.obs.shape == (2, 3, 3, 2) and isinstance(nb.obs, np.ndarray)


def test_none_fields_and_bad_dtypes():
    Ex2 = namedarraytuple("BufEx2", ["a", "b"])
    buf = buffer_from_example(Ex2(np.zeros(2), None), (3,))
    assert buf.b is None and buf.a.shape == (3, 2)
    with pytest.raises(TypeError, match="cannot allocate"):
        buffer_from_example(Ex2("text", None), (3,))
    with pytest.raises(TypeError, match="zero-copy torch"):
        torch_buffer_from_example(np.zeros(2, np.uint32), (3,))
