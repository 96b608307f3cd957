"""cocotb regression of the floating-point tensor core on every selected simulator."""

import dataclasses
import json

import pytest

from hdl.tensor.fp_config import PRECISIONS, FPTensorCoreConfig
from hdl.tensor.fp_core import FPTensorCore
from sim.runner import run_cocotb, to_verilog
from tests.conftest import simulators

CONFIGS = {
    # Every format and INT8 (two INT8 MACs per PE); a 3-stage adder, so tiles interleave
    # 3 row blocks.
    "2x2-all-m2a3": FPTensorCoreConfig(rows=2, cols=2, precisions=PRECISIONS,
                                       mul_stages=2, add_stages=3, int8_macs_per_pe=2),
    # Floating point only (the accumulator without the INT8 sum), 4 row blocks.
    "2x2-fp-m3a4": FPTensorCoreConfig(rows=2, cols=2, precisions=("tf32", "fp16", "bf16"),
                                      mul_stages=3, add_stages=4),
}

TESTCASES = [
    "test_random_tiles",
    "test_special_values",
    "test_int8_extremes",
    "test_int8_wrap",
    "test_int8_fp_mixed_tile_contained",
    "test_cancellation",
    "test_long_k",
    "test_mixed_back_to_back",
    "test_reset_mid_tile",
    "test_single_tile_cycles",
    "test_utilisation",
]
INT8_ONLY = {"test_int8_extremes", "test_int8_wrap", "test_int8_fp_mixed_tile_contained"}
CASES = [(config, testcase) for config in CONFIGS for testcase in TESTCASES
         if CONFIGS[config].has_int8 or testcase not in INT8_ONLY]


def _run(sim, config, testcase, tmp_path=None, **params):
    verilog = to_verilog(FPTensorCore(config=config), "fp_tensor_core")
    all_params = dataclasses.asdict(config) | params
    all_params["precisions"] = list(config.precisions)
    env = {}
    if tmp_path is not None:
        env["BRGPU_REPORT"] = str(tmp_path / "report.json")
    return run_cocotb(verilog_text=verilog, toplevel="fp_tensor_core",
                      test_module="verif.tensor.test_fp_core", sim=sim,
                      testcase=testcase, params=all_params, extra_env=env)


@pytest.mark.parametrize(("config", "testcase"), CASES)
@pytest.mark.parametrize("sim", simulators())
def test_fp_tensor_core(sim, config, testcase):
    # Long K on every precision on Verilator; one precision (from the seed) on Icarus.
    _run(sim, CONFIGS[config], testcase, long_k_all=sim == "verilator")


@pytest.mark.parametrize("sim", simulators())
def test_fp_utilisation_report(sim, tmp_path):
    """Back-to-back tiles with K = 16 * min_k keep the array >= 99 % busy, every precision."""
    cfg = CONFIGS["2x2-all-m2a3"]
    k = 16 * cfg.min_k_per_tile()
    _run(sim, cfg, "test_utilisation", tmp_path, util_tiles=8, util_k=k)
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["per_precision"]) == set(cfg.precisions)
    for precision, figures in report["per_precision"].items():
        assert figures["cycles"] == 8 * cfg.tile_beats(k) + cfg.fill_cycles_of(precision) + \
            cfg.drain_cycles - 1
        assert figures["utilisation"] >= 0.99, figures
