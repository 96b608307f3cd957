"""Tests of the L2 cache slice: configuration checks, replacement logic, cocotb regression."""

import dataclasses
import functools
import json
import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hdl.cache import CacheConfig, CacheSlice
from hdl.cache.replacement import ReplacementLogic, lfsr16_next, repl_reset_value
from sim.runner import run_cocotb, to_verilog
from tests.conftest import simulators
from verif.models.cache import GaloisLFSR16, TreePLRU, TrueLRU

#: The two RTL configurations the cocotb tests build: a tiny one with 8 sets (conflicts on
#: every few requests, true LRU) and two data RAM banks, and the ``fpga`` preset (tree
#: pseudo-LRU, one bank).
CONFIGS = {
    "tiny-lru": CacheConfig(capacity=1024, ways=4, line_bytes=32, data_bytes=4, mshrs=2,
                            mshr_targets=3, policy="lru", banks=2),
    "fpga": CacheConfig.fpga(),
}

TESTCASES = {
    "tiny-lru": ["test_directed", "test_non_blocking", "test_random_traffic",
                 "test_reset_mid_traffic", "test_hit_latency_and_throughput"],
    # The fpga hit timing runs in test_hit_timing_fpga, which also checks the numbers.
    "fpga": ["test_directed", "test_non_blocking", "test_random_traffic"],
}


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(ways=3), ValueError, "ways must be a power of two, not 3"),
    (dict(capacity=32), ValueError, r"capacity must be at least one line \(line_bytes = 64"),
    (dict(capacity=128), ValueError, "capacity must be at least ways \\* line_bytes = 256"),
    (dict(capacity=3000), ValueError, "capacity must be a power of two"),
    (dict(line_bytes=512), ValueError, "line_bytes must be a power of two from 4 to 256"),
    (dict(data_bytes=128), ValueError, "data_bytes must be a power of two at most"),
    (dict(mshrs=0), ValueError, "mshrs must be from 1 to 64, not 0"),
    (dict(policy="fifo"), ValueError, "policy must be one of 'plru', 'lru', 'random'"),
    (dict(seed=0), ValueError, "seed must be a nonzero 16-bit value"),
    (dict(addr_width=12), ValueError, "addr_width must be from 14"),
    (dict(id_width=0), ValueError, "id_width must be from 1 to 16"),
    (dict(banks=3), ValueError, r"banks must be a power of two from 1 to sets = 128, not 3"),
    (dict(banks=256), ValueError, r"banks must be a power of two from 1 to sets = 128, not 256"),
    (dict(banks=2.0), TypeError, "banks must be an integer"),
    (dict(ways="4"), TypeError, "ways must be an integer"),
    (dict(policy=1), TypeError, "policy must be a string"),
])
def test_config_rejects_bad_values(kwargs, error, match):
    with pytest.raises(error, match=match):
        CacheConfig.fpga(**kwargs)


def test_config_presets():
    fpga = CacheConfig.fpga()
    assert (fpga.capacity, fpga.ways, fpga.line_bytes, fpga.mshrs) == (32768, 4, 64, 4)
    assert (fpga.sets, fpga.offset_bits, fpga.index_bits, fpga.tag_bits) == (128, 6, 7, 19)
    br100 = CacheConfig.br100()
    assert (br100.capacity, br100.ways, br100.line_bytes, br100.mshrs) == (1 << 20, 16, 128, 32)
    assert br100.sets == 512 and br100.mem_id_width == 5
    assert CacheConfig.named("br104") == CacheConfig.br104()
    with pytest.raises(ValueError, match="name must be one of 'fpga', 'br104', 'br100'"):
        CacheConfig.named("big")
    with pytest.raises(ValueError, match=r"name must be one of .*, not \['fpga'\]"):
        CacheConfig.named(["fpga"])


def test_slice_rejects_bad_config():
    with pytest.raises(TypeError, match="config must be a CacheConfig"):
        CacheSlice(config=dict(ways=4))
    with pytest.raises(ValueError, match="ways must be a power of two, not 3"):
        CacheSlice(config=CacheConfig(capacity=1024, ways=3, line_bytes=16))


@pytest.mark.parametrize("ways", [True, 4.0, 3])
def test_replacement_logic_rejects_bad_ways(ways):
    with pytest.raises(ValueError, match=f"ways must be a power of two, not {ways!r}"):
        ReplacementLogic(policy="plru", ways=ways)


# -- replacement logic against the model (Amaranth simulator) ---------------------------------


@pytest.mark.parametrize("policy, ways", [("plru", 1), ("plru", 2), ("plru", 4), ("plru", 16),
                                          ("lru", 2), ("lru", 4), ("lru", 8)])
def test_replacement_logic_matches_model(policy, ways):
    dut = ReplacementLogic(policy=policy, ways=ways)
    reference = TreePLRU(ways) if policy == "plru" else TrueLRU(ways)
    rng = random.Random(ways)
    levels = max(1, (ways - 1).bit_length())

    def packed():
        if policy == "plru":
            return reference.bits
        return sum(way << (i * levels) for i, way in enumerate(reference.order))

    async def bench(ctx):
        state = repl_reset_value(policy, ways)
        assert state == packed()
        for _ in range(200):
            ctx.set(dut.state, state)
            assert ctx.get(dut.victim) == reference.victim()
            way = rng.randrange(ways)
            ctx.set(dut.way, way)
            reference.touch(way)
            state = ctx.get(dut.touched)
            assert state == packed()

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def test_lfsr_matches_model():
    m = Module()
    state = Signal(16, init=0xACE1)
    m.d.sync += state.eq(lfsr16_next(state))
    reference = GaloisLFSR16(0xACE1)

    async def bench(ctx):
        for _ in range(300):
            await ctx.tick()
            assert ctx.get(state) == reference.step()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


# -- cocotb regression ------------------------------------------------------------------------


@functools.cache
def _verilog(config):
    return to_verilog(CacheSlice(config=config), "cache_slice")


def _run(sim, config, testcase, report=None, **params):
    verilog = _verilog(config)
    env = {"BRGPU_REPORT": str(report)} if report is not None else {}
    return run_cocotb(verilog_text=verilog, toplevel="cache_slice",
                      test_module="verif.cache.test_cache_slice", sim=sim, testcase=testcase,
                      params=dataclasses.asdict(config) | params, extra_env=env)


@pytest.mark.parametrize("sim", simulators())
@pytest.mark.parametrize("config, testcase",
                         [(c, t) for c, tests in TESTCASES.items() for t in tests])
def test_cache_slice(sim, config, testcase):
    _run(sim, CONFIGS[config], testcase)


@pytest.mark.parametrize("sim", simulators())
def test_hit_timing_fpga(sim, tmp_path):
    """The fpga slice answers a hit in 3 cycles and sustains one hit per cycle."""
    _run(sim, CONFIGS["fpga"], "test_hit_latency_and_throughput", tmp_path / "report.json")
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["hit_latency"] == 3
    assert report["cycles"] == report["hits"] + report["hit_latency"]
