"""Data containers, buffers, specs, seeding and leading-dims helpers."""
from rlframe.core.buffers import buffer_from_example, numpify, torch_buffer_from_example, torchify
from rlframe.core.leading_dims import infer_leading_dims, restore_leading_dims
from rlframe.core.namedarraytuple import namedarraytuple
from rlframe.core.seeding import env_seeds, set_global_seeds
from rlframe.core.specs import Spec, spec_from_space, validate

__all__ = [
    "namedarraytuple", "buffer_from_example", "torch_buffer_from_example", "torchify", "numpify",
    "infer_leading_dims", "restore_leading_dims", "env_seeds", "set_global_seeds", "Spec",
    "spec_from_space", "validate",
]
