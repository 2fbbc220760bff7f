"""``python -m rlframe.placement.cli`` / ``add_placement_parser``."""
import json

import pytest

from rlframe.placement.designs import design_file
from rlframe.placement.cli import main


def test_cost_json_from_plc_header(capsys):
    assert main(["cost", "--netlist", "ariane133", "--plc",
                 design_file("ariane133", "legalized.plc"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"hpwl", "wirelength_cost", "density_cost", "congestion_cost", "proxy_cost"}
    assert out["congestion_cost"] == pytest.approx(0.7259, rel=1e-3)


def test_cost_overrides_and_info(capsys):
    assert main(["placement", "cost", "--netlist", "sample_clustered", "--grid", "4", "4",
                 "--canvas", "500", "500", "--routes", "10", "10", "--macro-routes", "5", "5",
                 "--smooth", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hpwl"] > 0
    assert main(["info", "toy_macro_stdcell", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["stdcells"] == 12 and info["hard_macros"] == 2
    assert main(["info", "--list"]) == 0 and "ariane133" in capsys.readouterr().out


def test_errors_are_one_line(capsys):
    assert main(["info", "no_such_design"]) == 2
    assert "unknown design" in capsys.readouterr().err


def test_plc_given_by_name_inside_the_design_folder(capsys):
    assert main(["cost", "--netlist", "ariane133", "--plc", "legalized.plc", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hpwl"] == pytest.approx(4763106.815, rel=1e-6)
    assert main(["cost", "--netlist", "ariane133", "--plc", "nope.plc", "--json"]) == 2
    err = capsys.readouterr().err
    assert "nope.plc" in err and "legalized.plc" in err  # names the files that are there


def test_fine_tuning_flags_read_back_as_rl_place_keywords():
    """add_fine_tuning_arguments and fine_tuning_kwargs share one list of rl_place's schedule keywords
    (FINE_TUNING_DEFAULTS): every flag, with or without a prefix, comes back under rl_place's name; the
    boolean has a --no- form; a keyword rl_place does not take is an error naming the known ones."""
    import argparse
    import inspect

    from rlframe.placement.cli import (FINE_TUNING_DEFAULTS, add_fine_tuning_arguments, fine_tuning_kwargs,
                                       fine_tuning_schedule)
    from rlframe.placement.rl import rl_place

    params = inspect.signature(rl_place).parameters
    assert {k: params[k].default for k in FINE_TUNING_DEFAULTS} == FINE_TUNING_DEFAULTS
    p = argparse.ArgumentParser()
    add_fine_tuning_arguments(p, prefix="eval-", defaults=dict(restore_best_policy=True, samples=64))
    a = p.parse_args(["--eval-imitate", "20", "--eval-imitate-top", "8", "--eval-sample-share", "0.9",
                      "--no-eval-restore-best-policy"])
    got = fine_tuning_kwargs(a, "eval-")
    assert got == {**FINE_TUNING_DEFAULTS, "imitate": 20, "imitate_top": 8, "sample_share": 0.9, "samples": 64}
    assert fine_tuning_kwargs(p.parse_args([]), "eval-")["restore_best_policy"] is True
    assert fine_tuning_schedule({"imitate": 3}) == {**FINE_TUNING_DEFAULTS, "imitate": 3}
    with pytest.raises(TypeError, match="imitate_topk.*FINE_TUNING_DEFAULTS"):
        fine_tuning_schedule({"imitate_topk": 3})
