"""cocotb regression of the HBM pseudo-channel controller on every selected simulator."""

import collections
import os
import random

import pytest

from hdl.hbm.controller import HBMPseudoChannel, _HeadFIFO
from sim.runner import run_cocotb, to_verilog
from tests.conftest import simulators
from verif.hbm.tb import design_config

TESTCASES = [
    "test_random_traffic",
    "test_refresh_long_run",
    "test_reset_mid_traffic",
    "test_unloaded_latency",
]


def run(sim, design, testcase, *, report=None, quiet=False, **params):
    """Build the controller of ``design`` and run one cocotb test of it."""
    verilog = to_verilog(HBMPseudoChannel(config=design_config(design)), "hbm_pc")
    env = {} if report is None else {"BRGPU_REPORT": str(report)}
    return run_cocotb(verilog_text=verilog, toplevel="hbm_pc",
                      test_module="verif.hbm.test_hbm_pc", sim=sim, testcase=testcase,
                      params={"design": design, **params}, extra_env=env, quiet=quiet)


@pytest.mark.parametrize("testcase", TESTCASES)
@pytest.mark.parametrize("sim", simulators())
def test_hbm_pc(sim, testcase):
    run(sim, "small", testcase)


@pytest.mark.parametrize("testcase", ["test_random_traffic", "test_refresh_long_run"])
@pytest.mark.parametrize("sim", simulators())
def test_hbm_pc_per_bank_refresh(sim, testcase):
    run(sim, "small-pb", testcase)


@pytest.mark.parametrize("testcase", ["test_random_traffic", "test_refresh_long_run"])
@pytest.mark.parametrize("sim", simulators())
def test_hbm_pc_short_timing(sim, testcase):
    """Row timings of 1-2 cycles: the scheduler paths that skip no cycle-old state."""
    run(sim, "small-short", testcase)


@pytest.mark.parametrize("sim", simulators())
def test_hbm_pc_wrong_timing_caught(sim):
    """A controller built with tRCD below the device's: the live device model must object."""
    run(sim, "small-bad-trcd", "test_wrong_timing_caught", expect_rule="tRCD")


@pytest.mark.parametrize("sim", simulators())
def test_hbm_onchip_system(sim):
    """The ``fpga`` block: controller + block-RAM memory model behind the PHY interface."""
    from hdl.hbm.config import controller_config
    from hdl.hbm.onchip import HBMOnChipSystem
    verilog = to_verilog(HBMOnChipSystem(config=controller_config("fpga")), "hbm_onchip")
    run_cocotb(verilog_text=verilog, toplevel="hbm_onchip",
               test_module="verif.hbm.test_hbm_pc", sim=sim,
               testcase="test_onchip_random_traffic", params={"design": "fpga"})


@pytest.mark.parametrize("depth", [1, 3, 8, 32])
def test_head_fifo_matches_a_queue(depth):
    """The controller's registered-head FIFO (in-flight reads, response queue) against a Python
    queue, under random writes and reads on every cycle (Amaranth's simulator): the head is the
    oldest word written in an earlier cycle, ready exactly when there is one."""
    from amaranth.sim import Simulator

    seed = int(os.environ.get("SEED", random.randrange(1 << 32)))
    rng = random.Random(seed)
    fifo = _HeadFIFO(width=6, depth=depth)
    seen = collections.Counter()

    async def bench(ctx):
        model = collections.deque()
        for cycle in range(2000):
            where = f"seed {seed} (SEED={seed} replays it), depth {depth}, cycle {cycle}"
            assert ctx.get(fifo.r_rdy) == bool(model), where
            if model:
                assert ctx.get(fifo.r_data) == model[0], where
            # Phases of mostly writes and mostly reads, so the FIFO fills and empties.
            bias = 0.8 if (cycle // 64) % 2 else 0.3
            pop = bool(model) and rng.random() < 1 - bias
            push = len(model) < depth and rng.random() < bias
            word = rng.randrange(64)
            ctx.set(fifo.r_en, pop)
            ctx.set(fifo.w_en, push)
            ctx.set(fifo.w_data, word)
            await ctx.tick()
            if pop:
                model.popleft()
            if push:
                model.append(word)
            seen[len(model)] += 1
        # The run went through an empty and a full FIFO.
        assert seen[0] and seen[depth], f"seed {seed}: levels seen {dict(seen)}"

    sim = Simulator(fifo)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
