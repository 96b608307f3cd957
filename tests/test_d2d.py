"""cocotb regression of the die-to-die link (two ends across a wire model) on every simulator."""

import pytest

from hdl.link.d2d import D2DConfig
from tests.conftest import simulators
from verif.link.harness import run_link

TESTCASES = [
    "test_error_free",
    "test_bit_errors",
    "test_burst_errors",
    "test_stuck_lane_retrain",
    "test_retrain_credits",
    "test_reset_mid_traffic",
]


@pytest.mark.parametrize("testcase", TESTCASES)
@pytest.mark.parametrize("sim", simulators())
def test_d2d_fpga(sim, testcase):
    run_link(sim, D2DConfig.fpga(), testcase)
