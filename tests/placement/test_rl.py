"""`rlframe placement rl`: fine-tune for a few seconds and save a checkpoint, then place a different
netlist (another grid) zero-shot from it; the written .plc scores as reported under the protocol."""
import json

import pytest

from rlframe.errors import ConfigError
from rlframe.placement import evaluate
from rlframe.placement.cli import main as placement_main
from rlframe.placement.rl import rl_place
from rlframe.placement.synthetic import SyntheticSpec, write_synthetic


@pytest.mark.parametrize("policy", ["cnn", "gnn"])
def test_fine_tune_then_zero_shot_on_another_netlist(tmp_path, capsys, policy):
    ck = str(tmp_path / "ck.pt")
    res = rl_place("macro_tiles_10x10", str(tmp_path / "a.plc"), policy=policy, seconds=2.0, seed=0,
                   save_checkpoint=ck, batch_T=25, batch_B=2)
    assert res.env_steps >= 50 and res.evaluations >= 1 and res.costs["proxy_cost"] > 0
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=6, seed=1))
    assert placement_main(["rl", "--netlist", netlist, "--plc", plc, "--checkpoint", ck, "--time", "0",
                           "--out", str(tmp_path / "b.plc"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["env_steps"] == res.env_steps and out["evaluations"] == 1
    assert evaluate(netlist, str(tmp_path / "b.plc"), fd="centre").costs["proxy_cost"] == \
        pytest.approx(out["proxy_cost"])


def test_zero_shot_needs_a_checkpoint(tmp_path):
    with pytest.raises(ConfigError, match="--time 0 needs --checkpoint"):
        rl_place("macro_tiles_10x10", str(tmp_path / "a.plc"))
    with pytest.raises(ConfigError, match="does not exist"):
        rl_place("macro_tiles_10x10", str(tmp_path / "a.plc"), checkpoint=str(tmp_path / "none.pt"))


def test_fine_tune_where_a_random_first_action_is_infeasible(tmp_path):
    """The sampler's start-up probe steps a random action; on this netlist many cells do not fit the
    first macro, which the env in infeasible_action='error' mode would refuse."""
    netlist, plc = write_synthetic(str(tmp_path), SyntheticSpec(n_macros=16, seed=0))
    res = rl_place(netlist, str(tmp_path / "a.plc"), plc=plc, policy="cnn", seconds=0.1,
                   batch_T=16, batch_B=1)
    assert res.env_steps == 16 and res.costs["overlap"] == 0.0
