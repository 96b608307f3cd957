"""cocotb regression of the INT8 tensor core on every selected simulator."""

import dataclasses
import json

import pytest

from hdl.config import TensorCoreConfig
from hdl.tensor import TensorCore
from sim.runner import run_cocotb, to_verilog
from tests.conftest import simulators

CONFIGS = {
    "8x8": TensorCoreConfig(rows=8, cols=8),
    "2x4": TensorCoreConfig(rows=2, cols=4),
    "4x2-unsigned-k2": TensorCoreConfig(rows=4, cols=2, k_per_beat=2, signed=False),
}

TESTCASES = [
    "test_random_gemms",
    "test_extreme_values",
    "test_back_to_back_tiles",
    "test_reset_mid_tile",
    "test_single_tile_cycles",
    "test_utilisation",
]


def _run(sim, config, testcase, tmp_path=None, **params):
    verilog = to_verilog(TensorCore(config=config), "tensor_core")
    all_params = dataclasses.asdict(config) | params
    env = {}
    if tmp_path is not None:
        env["BRGPU_REPORT"] = str(tmp_path / "report.json")
    return run_cocotb(verilog_text=verilog, toplevel="tensor_core",
                      test_module="verif.tensor.test_tensor_core", sim=sim,
                      testcase=testcase, params=all_params, extra_env=env)


@pytest.mark.parametrize("testcase", TESTCASES)
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("sim", simulators())
def test_tensor_core(sim, config, testcase):
    _run(sim, CONFIGS[config], testcase)


@pytest.mark.parametrize("sim", simulators())
def test_utilisation_8x8_target(sim, tmp_path):
    """16 back-to-back 8x8 tiles of K=256 keep the array >= 99 % busy (cycle count)."""
    cfg = CONFIGS["8x8"]
    _run(sim, cfg, "test_utilisation", tmp_path, util_tiles=16, util_k=256)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["cycles"] == 16 * 256 + cfg.fill_cycles + cfg.drain_cycles - 1
    assert report["utilisation"] >= 0.99, report
