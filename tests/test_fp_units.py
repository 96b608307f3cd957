"""cocotb regression of the FP32 multiplier and adder as single units, on every simulator."""

import pytest

from hdl.tensor.fp import FPUnitHarness
from hdl.tensor.fp_config import FORMATS
from sim.runner import run_cocotb, to_verilog
from tests.conftest import simulators

# One design: every format, a 1-stage multiplier and a 6-stage adder (every adder step
# registered, as in the fpga preset; the tensor core tests use other depths, so both ends of
# the depth parameter are covered).
DESIGN = {"precisions": list(FORMATS), "mul_stages": 1, "add_stages": 6}
# Pairs per run: Verilator runs the volume, Icarus a sample.
PAIRS = {"verilator": 30000, "icarus": 3000}


@pytest.mark.parametrize("sim", simulators())
def test_fp_units(sim):
    harness = FPUnitHarness(precisions=tuple(DESIGN["precisions"]),
                            mul_stages=DESIGN["mul_stages"], add_stages=DESIGN["add_stages"])
    verilog = to_verilog(harness, "fp_units")
    run_cocotb(verilog_text=verilog, toplevel="fp_units",
               test_module="verif.tensor.test_fp_units", sim=sim,
               testcase="test_random_and_special_pairs",
               params=DESIGN | {"pairs": PAIRS.get(sim, 3000)})
