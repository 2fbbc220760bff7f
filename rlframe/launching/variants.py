"""Variants: grids of configuration overrides for experiment sweeps (rlpyt's ``launching.variant``).

A launch script keeps one default ``config`` dict; a sweep is a product of :class:`VariantLevel`
objects, each listing the values some keys take together. :func:`make_variants` turns the levels
into override dicts and matching directory names; :func:`update_config` deep-merges one into the
defaults::

    levels = [VariantLevel([("algo", "learning_rate")], [[1e-3], [3e-4]], ["lr1e-3", "lr3e-4"]),
              VariantLevel([("sampler", "batch_B")], [[8], [16]], ["B8", "B16"])]
    variants, dirs = make_variants(*levels)      # 4 variants, dirs like "lr1e-3/B8"
    config = update_config(default_config, variants[0])
"""
from __future__ import annotations

import copy
import itertools
import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Tuple, Union

from rlframe.errors import ConfigError
from rlframe.logging.serialize import to_jsonable

Key = Union[str, Tuple[str, ...]]
VARIANT_FILE = "variant_config.json"


@dataclass
class VariantLevel:
    """Keys (each a tuple path into the config, or a plain top-level name), the value rows they take
    together, and one directory name per row."""

    keys: Sequence[Key]
    values: Sequence[Sequence[Any]]
    dir_names: Sequence[str]

    def __post_init__(self):
        if len(self.values) != len(self.dir_names):
            raise ConfigError(f"VariantLevel: {len(self.values)} value rows but {len(self.dir_names)} dir_names; "
                              "give one directory name per row.")
        for row in self.values:
            if len(row) != len(self.keys):
                raise ConfigError(f"VariantLevel: row {list(row)} has {len(row)} values for {len(self.keys)} keys "
                                  f"{list(self.keys)}.")


def _path(key: Key) -> Tuple[str, ...]:
    return (key,) if isinstance(key, str) else tuple(key)


def make_variants(*levels: VariantLevel) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Every combination of one row per level: (override dicts, relative directory names)."""
    variants, dirs = [], []
    for combo in itertools.product(*(range(len(level.values)) for level in levels)):
        variant: Dict[str, Any] = {}
        names = []
        for level, i in zip(levels, combo):
            for key, value in zip(level.keys, level.values[i]):
                _set(variant, _path(key), value)
            names.append(level.dir_names[i])
        variants.append(variant)
        dirs.append(os.path.join(*names) if names else "")
    return variants, dirs


def _set(d: Dict[str, Any], path: Tuple[str, ...], value: Any) -> None:
    for k in path[:-1]:
        d = d.setdefault(k, {})
    d[path[-1]] = value


def update_config(default: Mapping[str, Any], variant: Mapping[str, Any]) -> Dict[str, Any]:
    """A deep copy of ``default`` with ``variant``'s values merged in; unknown keys raise
    :class:`ConfigError` (a typo in a sweep should not silently run the defaults)."""
    out = copy.deepcopy(dict(default))
    for k, v in variant.items():
        if k not in out:
            raise ConfigError(f"variant key '{k}' is not in the config (keys: {sorted(out)}).")
        if isinstance(v, Mapping) and isinstance(out[k], Mapping):
            out[k] = update_config(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def save_variant(variant: Mapping[str, Any], log_dir: str) -> str:
    os.makedirs(log_dir, exist_ok=True)
    path = os.path.join(log_dir, VARIANT_FILE)
    with open(path, "w") as f:
        json.dump(to_jsonable(variant), f, indent=2, sort_keys=True)
    return path


def load_variant(log_dir: str) -> Dict[str, Any]:
    with open(os.path.join(log_dir, VARIANT_FILE)) as f:
        return json.load(f)
