"""Seeding from one ``numpy.random.SeedSequence`` tree.

Every train env, eval env and worker gets a distinct integer seed spawned from the run seed,
so runs are reproducible and no two envs share a random stream.
"""
from __future__ import annotations

import random
from typing import List, Optional, Tuple

import numpy as np
import torch


def make_seed(seed: Optional[int] = None) -> int:
    """A concrete seed: ``seed`` itself, or fresh entropy when ``None``."""
    if seed is not None:
        return int(seed)
    return int(np.random.SeedSequence().generate_state(1)[0])


def set_global_seeds(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def env_seeds(seed: int, n_train: int, n_eval: int = 0) -> Tuple[List[int], List[int]]:
    """Distinct 32-bit seeds for ``n_train`` train envs and ``n_eval`` eval envs.

    Children ``0`` (train) and ``1`` (eval) of ``SeedSequence(seed)`` spawn one child per env.
    """
    root = np.random.SeedSequence(seed)
    train_ss, eval_ss, _ = root.spawn(3)
    train = [int(s.generate_state(1)[0]) for s in train_ss.spawn(n_train)]
    evals = [int(s.generate_state(1)[0]) for s in eval_ss.spawn(n_eval)]
    seen = set()
    out = []
    for s in train + evals:  # 32-bit collisions are rare but possible: make them impossible
        while s in seen:
            s = (s * 2654435761 + 1) % (2**32)
        seen.add(s)
        out.append(s)
    return out[:n_train], out[n_train:]


def worker_seed(seed: int, rank: int) -> int:
    """Seed for a worker process's own torch/numpy generators (child 2 of the tree)."""
    return int(np.random.SeedSequence(seed).spawn(3)[2].spawn(rank + 1)[rank].generate_state(1)[0])
