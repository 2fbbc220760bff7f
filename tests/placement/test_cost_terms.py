"""Cost terms are a registry: a new term is one registered function (name, default weight, .plc label)."""
import pytest

from rlframe.errors import ConfigError
from rlframe.placement import cost as C
from rlframe.placement.state import Finisher, PlacementProblem, plc_header


def test_the_three_circuit_training_terms_are_registered_with_their_weights():
    assert [(t.name, t.weight, t.plc_label) for t in C.COST_TERMS.values()] == [
        ("wirelength", 1.0, "Wirelength cost"), ("density", 0.5, "Density cost"),
        ("congestion", 0.5, "Congestion cost")]
    assert C.term_weights() == (1.0, 0.5, 0.5)
    assert C.term_weights((1, 0, 2), density=0.25) == (1.0, 0.25, 2.0)
    assert C.term_weights({"wl": 2.0}) == (2.0, 0.5, 0.5)
    with pytest.raises(ConfigError, match="one per cost term"):
        C.term_weights((1.0, 0.5))
    with pytest.raises(ConfigError, match="unknown cost term 'area'"):
        C.term_weights(area=1.0)


@pytest.fixture
def extra_term():
    @C.cost_term("macro_count", 0.25, "Macro count cost")
    def macro_count(pc):
        return float(len(pc.netlist.hard_macro_indices))
    yield macro_count
    del C.COST_TERMS["macro_count"]


def test_a_new_term_reaches_evaluate_proxy_and_plc_header(extra_term):
    p = PlacementProblem("macro_tiles_10x10")
    pc = p.cost
    n = float(len(p.netlist.hard_macro_indices))
    e = pc.evaluate()
    assert e["macro_count_cost"] == n
    base = e["wirelength_cost"] + 0.5 * e["density_cost"] + 0.5 * e["congestion_cost"]
    assert e["proxy_cost"] == pytest.approx(base + 0.25 * n)
    assert pc.proxy_cost() == pytest.approx(e["proxy_cost"])
    assert pc.proxy_cost(1.0, 0.5, 0.5, 0.0) == pytest.approx(base)
    x, y, costs = Finisher(p, run_fd=False).evaluate(pc.x, pc.y, pc.orientation)
    assert plc_header(p, costs)["Macro count cost"] == f"{n:.4f}"
    with pytest.raises(ConfigError, match="registered twice"):
        C.cost_term("macro_count", 1.0, "again")(lambda pc: 0.0)
