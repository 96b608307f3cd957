"""cocotb regression of two dies joined by the die-to-die link, on every selected simulator."""

import functools

import pytest

from hdl.link.noc import D2DBridge, DieNetwork, TwoDieNetwork
from sim.runner import run_cocotb, to_verilog
from synth.bench_chip import BENCH_CONFIG, TOPLEVEL, chip_params
from tests.conftest import simulators

#: Two 2x2 dies, 16-bit payload, gateway at node 1 = (1, 0) (not the default corner), joined
#: by the fpga link (8-byte messages in 12-byte flits, 3 beats on 4 lanes x 8 bits); the same
#: design as ``synth/bench_chip.py`` measures.
CONFIG = BENCH_CONFIG

TESTCASES = [
    "test_uniform_every_pair",
    "test_bit_errors",
    "test_fill_and_drain",
    "test_reset_mid_traffic",
    "test_zero_load_latency",
]


@functools.cache
def chip_verilog(config):
    """Return the Verilog of the two-die network with its lanes as ports."""
    return to_verilog(TwoDieNetwork(config=config, wired=False), TOPLEVEL)


def run_chip(sim, config, testcase, extra_env=None, **params):
    """Run one cocotb test of :mod:`verif.noc.test_chip`."""
    return run_cocotb(verilog_text=chip_verilog(config), toplevel=TOPLEVEL,
                      test_module="verif.noc.test_chip", sim=sim, testcase=testcase,
                      params=chip_params(config) | params, extra_env=extra_env)


@pytest.mark.parametrize("testcase", TESTCASES)
@pytest.mark.parametrize("sim", simulators())
def test_chip_network(sim, testcase):
    run_chip(sim, CONFIG, testcase)


def test_chip_validation():
    with pytest.raises(TypeError, match="config must be a DieNetConfig"):
        DieNetwork(config=CONFIG.mesh)
    with pytest.raises(ValueError, match="die must be 0 or 1"):
        DieNetwork(config=CONFIG, die=2)
    with pytest.raises(TypeError, match="wired must be a bool"):
        TwoDieNetwork(config=CONFIG, wired=1)
    with pytest.raises(TypeError, match="config must be a DieNetConfig"):
        D2DBridge(config=None)


def test_wired_chip_elaborates():
    design = TwoDieNetwork(config=CONFIG, wired=True)
    names = {"__".join(map(str, path)) for path, _m, _v in design.signature.flatten(design)}
    assert "inject__7__1__valid" in names and "status__1" in names
    assert not any(name.startswith("lane_") for name in names)
    assert "module two_die" in to_verilog(design, "two_die")
