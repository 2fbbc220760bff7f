"""Variants: grid products, directory names, deep merge, typo protection."""
import pytest

from rlframe.errors import ConfigError
from rlframe.launching.variants import VariantLevel, load_variant, make_variants, save_variant, update_config


def test_grid_and_merge(tmp_path):
    levels = [VariantLevel([("algo", "lr")], [[1e-3], [3e-4]], ["lr1e-3", "lr3e-4"]),
              VariantLevel(["seed"], [[0], [1], [2]], ["s0", "s1", "s2"])]
    variants, dirs = make_variants(*levels)
    assert len(variants) == 6 and dirs[0] == "lr1e-3/s0" and dirs[-1] == "lr3e-4/s2"
    default = {"algo": {"lr": 1.0, "epochs": 4}, "seed": None}
    cfg = update_config(default, variants[4])
    assert cfg == {"algo": {"lr": 3e-4, "epochs": 4}, "seed": 1}
    assert default["algo"]["lr"] == 1.0
    save_variant(variants[4], str(tmp_path))
    assert load_variant(str(tmp_path)) == variants[4]


def test_errors_name_the_problem():
    with pytest.raises(ConfigError, match="dir_names"):
        VariantLevel(["a"], [[1], [2]], ["x"])
    with pytest.raises(ConfigError, match="'lrr'"):
        update_config({"lr": 1}, {"lrr": 2})
