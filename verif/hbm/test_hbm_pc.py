"""cocotb tests of the HBM pseudo-channel controller against the device model and a flat image.

Run through ``tests/test_hbm_pc.py`` (pytest) or ``synth/bench_hbm.py``; ``BRGPU_PARAMS``
names the design (:data:`verif.hbm.tb.DESIGNS`) and, for the benchmark, the traffic pattern.
Every random choice comes from the logged seed (``SEED=n``). Every command the controller
issues is checked by the JEDEC device model as it happens; a violation fails the test.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from hdl.hbm.frontend import MemOp
from verif.hbm.tb import (
    HBMTB,
    address_of,
    design_config,
    device_timing,
    params_from_env,
    soak_factor,
)

READ, WRITE = MemOp.READ, MemOp.WRITE


def _tb(dut, *, stress=True):
    params = params_from_env()
    return HBMTB(dut, design_config(params["design"]), stress=stress), params


@cocotb.test()
async def test_wrong_timing_caught(dut):
    """Negative test: a controller built with a too-short timing must be caught by the model.

    ``BRGPU_PARAMS`` names a design of :data:`verif.hbm.tb.DEVICE_TIMING` and the rule
    (``expect_rule``) the device model, checking the true timing, must report.
    """
    params = params_from_env()
    name = params["design"]
    tb = HBMTB(dut, design_config(name), timing=device_timing(name), raise_violations=False)
    assert tb.device.timing != tb.config.timing, "the design's timing is not wrong"
    await tb.start()
    cfg = tb.config
    for line in range(4):
        await tb.send(READ, address_of(cfg, 2 * line, 1, line))
    for _ in range(500):
        if tb.device.violations:
            break
        await ClockCycles(dut.clk, 1)
    assert tb.device.violations, "the device model accepted a controller with wrong timing"
    violation = tb.device.violations[0]
    dut._log.info("caught as expected: %s", violation)
    assert violation.rule == params["expect_rule"], violation
    assert str(violation).startswith(f"{params['expect_rule']} violated"), violation


def _random_requests(tb, count):
    """Yield a mix of hot-line hazards, row conflicts, bank thrash and sequential runs."""
    cfg, rng = tb.config, tb.np_rng
    geo = cfg.geometry
    lines_per_row = geo.columns // cfg.bursts_per_line
    capacity_lines = geo.capacity_bytes // cfg.line_bytes
    hot = [int(a) * cfg.line_bytes for a in rng.integers(0, capacity_lines, 6)]
    conflict_bank = int(rng.integers(0, geo.banks))
    sent = 0
    while sent < count:
        kind = rng.choice(["hot", "conflict", "thrash", "sequential"], p=[0.3, 0.25, 0.25, 0.2])
        if kind == "hot":
            addrs = [hot[int(rng.integers(0, len(hot)))] for _ in range(8)]
        elif kind == "conflict":
            addrs = [address_of(cfg, conflict_bank, int(rng.integers(0, 4)),
                                int(rng.integers(0, lines_per_row))) for _ in range(8)]
        elif kind == "thrash":
            addrs = [address_of(cfg, int(rng.integers(0, geo.banks)),
                                int(rng.integers(0, geo.rows)),
                                int(rng.integers(0, lines_per_row))) for _ in range(8)]
        else:
            start = int(rng.integers(0, capacity_lines - 16))
            addrs = [(start + k) * cfg.line_bytes for k in range(16)]
        for addr in addrs:
            op = WRITE if rng.random() < 0.5 else READ
            if op is WRITE:
                mask = (1 << cfg.line_bytes) - 1
                if rng.random() < 0.3:
                    mask = int(rng.integers(0, 1 << 62)) | (int(rng.integers(0, 4)) << 62)
                yield (op, addr, None, mask)
            else:
                yield (op, addr)
            sent += 1


@cocotb.test()
async def test_random_traffic(dut):
    """Reads and writes with same-line hazards, row conflicts and bank thrash, under stress."""
    tb, _ = _tb(dut)
    await tb.start()
    count = 300 * soak_factor()
    await tb.run(_random_requests(tb, count))
    await tb.drain(count * 200 + 5000)
    tb.check_image()
    model = tb.device.model
    dut._log.info("%d requests, %d reads checked; device: %d ACT %d PRE %d RD %d WR %d REF",
                  tb.sent, tb.scoreboard.matched, model.acts, model.precharges, model.reads,
                  model.writes, model.refreshes)
    assert model.reads + model.writes == tb.sent * tb.config.bursts_per_line


@cocotb.test()
async def test_refresh_long_run(dut):
    """Traffic and idle stretches over many refresh intervals: refresh is never late."""
    tb, _ = _tb(dut)
    await tb.start()
    cfg = tb.config
    t, banks = cfg.timing, cfg.geometry.banks
    tb.device.log_commands = True
    for _ in range(3 * soak_factor()):
        await tb.run(_random_requests(tb, 120))
        await tb.drain(120 * 200 + 5000)
        await ClockCycles(dut.clk, int(tb.np_rng.integers(t.tREFI // 2, 3 * t.tREFI)))
    await ClockCycles(dut.clk, 2 * t.tREFI)
    model = tb.device.model
    cycle = tb.device.cycle
    model.check_refresh(cycle)
    # Idle for two intervals at the end: the controller is at most one refresh behind.
    owed = [model.refreshes_owed(cycle, bank) for bank in range(banks)]
    assert max(owed) <= 1, owed
    if cfg.refresh == "per_bank":
        # One REFPB owed every tREFIpb, never skipped, to the banks in turn; no REF.
        refpb = [bank for _, cmd, bank, _, _ in tb.device.commands if cmd.name == "REFPB"]
        assert model.refreshes == 0, model.refreshes
        assert len(refpb) == model.refreshes_per_bank
        assert model.refreshes_per_bank >= cycle // t.tREFIpb - 1, (
            model.refreshes_per_bank, cycle // t.tREFIpb)
        assert refpb == [k % banks for k in range(len(refpb))], refpb[:40]
    else:
        assert model.refreshes >= cycle // t.tREFI - 1
        assert model.refreshes_per_bank == 0
    dut._log.info("%d cycles, %d REF, %d REFPB", cycle, model.refreshes,
                  model.refreshes_per_bank)


@cocotb.test()
async def test_reset_mid_traffic(dut):
    """Reset while requests are queued and bursts in flight, then a clean checked run."""
    tb, _ = _tb(dut)
    await tb.start()
    await tb.run(_random_requests(tb, 60))
    await ClockCycles(dut.clk, int(tb.np_rng.integers(5, 60)))
    await tb.reset()
    await tb.run(_random_requests(tb, 150))
    await tb.drain(150 * 200 + 5000)
    tb.check_image()


@cocotb.test()
async def test_unloaded_latency(dut):
    """Read latency with nothing else queued: closed bank, row hit, row conflict."""
    tb, _ = _tb(dut, stress=False)
    await tb.start()
    cfg = tb.config
    result = {}
    cases = [("closed", address_of(cfg, 5, 3, 0)), ("hit", address_of(cfg, 5, 3, 1)),
             ("conflict", address_of(cfg, 5, 4, 0))]
    for name, addr in cases:
        await tb.send(READ, addr)
        await tb.drain(2000)
        result[name] = tb.latencies[-1]
    t = cfg.timing
    # Request handshake -> queue (1 cycle), where the scheduler drives the first RD onto the
    # PHY -> last burst tCCD_L later -> its beats CL .. CL + burst_cycles - 1 after it; the
    # line is on ``resp`` in the cycle of its last beat: see docs/hbm.md.
    hit = 1 + t.tCCD_L * (cfg.bursts_per_line - 1) + t.CL + t.burst_cycles - 1
    expected = {"hit": hit, "closed": hit + t.tRCD, "conflict": hit + t.tRCD + t.tRP}
    if cfg.auto_precharge:
        # The lone read closed its row with an RDA: the next one always finds it closed.
        expected.update(hit=hit + t.tRCD, conflict=hit + t.tRCD)
    dut._log.info("unloaded latency %s, expected %s", result, expected)
    assert result == expected, (result, expected)
    if not cfg.auto_precharge and cfg.bursts_per_line == 2 and t.tCCD_L == t.burst_cycles:
        # The targets: row hit <= CL + 4, closed <= tRCD + CL + 4, conflict <= tRP +
        # tRCD + CL + 4 (a 64 B line is two gapless bursts).
        assert result["hit"] <= t.CL + 4, result
        assert result["closed"] <= t.tRCD + t.CL + 4, result
        assert result["conflict"] <= t.tRP + t.tRCD + t.CL + 4, result
    _report(result)


def _pattern(tb, pattern, count):
    cfg, rng = tb.config, tb.np_rng
    lines = cfg.geometry.capacity_bytes // cfg.line_bytes
    start = int(rng.integers(0, lines // 2))
    for k in range(count):
        line = (start + k) % lines   # (a long run wraps around a small device)
        if pattern == "seq_read":
            yield (READ, line * cfg.line_bytes)
        elif pattern == "seq_write":
            yield (WRITE, line * cfg.line_bytes)
        elif pattern == "seq_mix":
            yield (READ if rng.random() < 0.5 else WRITE, line * cfg.line_bytes)
        elif pattern == "rand_read":
            yield (READ, int(rng.integers(0, lines)) * cfg.line_bytes)
        elif pattern == "conflict_read":
            # Every request a different row of the same bank: the worst case.
            yield (READ, address_of(cfg, 0, int(k % cfg.geometry.rows), 0))
        else:
            raise ValueError(f"pattern must be seq_read, seq_write, seq_mix, rand_read or "
                             f"conflict_read, not {pattern!r}")


def _report(result):
    path = os.environ.get("BRGPU_REPORT")
    if path:
        with open(path, "w") as out:
            json.dump(result, out, indent=2)


@cocotb.test()
async def test_efficiency(dut):
    """Saturating traffic of one pattern: data-bus efficiency and read latencies."""
    tb, params = _tb(dut, stress=False)
    await tb.start()
    pattern = params.get("pattern", "seq_read")
    count = int(params.get("requests", 400))
    warm = int(params.get("warmup", count // 10))
    tb.device.log_commands = bool(params.get("trace"))
    tb.mark("start", warm)
    tb.mark("end", count - 8)
    await tb.run(_pattern(tb, pattern, count))
    await tb.drain(count * 400 + 10000)
    (_, c0, b0), (_, c1, b1) = tb.marks["start"], tb.marks["end"]
    model = tb.device.model
    latencies = np.array(tb.latencies[warm:] or tb.latencies)
    result = {
        "pattern": pattern, "requests": count, "window_cycles": c1 - c0,
        "busy_cycles": b1 - b0, "efficiency": (b1 - b0) / (c1 - c0),
        "latency_avg": float(latencies.mean()) if latencies.size else None,
        "latency_p99": float(np.percentile(latencies, 99)) if latencies.size else None,
        "acts": model.acts, "refreshes": model.refreshes,
        "refreshes_per_bank": model.refreshes_per_bank, "cycles": tb.device.cycle,
    }
    dut._log.info("%s", result)
    if params.get("trace"):
        with open(params["trace"], "w") as out:
            for cycle, cmd, bank, row, col in tb.device.commands:
                out.write(f"{cycle} {cmd.name} {bank} {row} {col}\n")
    assert c1 > c0 and 0 < result["efficiency"] <= 1
    # Refresh kept up under saturating traffic: never more owed than the postponement allows.
    cfg, t, cycles = tb.config, tb.config.timing, tb.device.cycle
    if cfg.refresh == "per_bank":
        assert model.refreshes_per_bank >= cycles // t.tREFIpb - cfg.refresh_postpone - 2, (
            model.refreshes_per_bank, cycles // t.tREFIpb)
    else:
        assert model.refreshes >= cycles // t.tREFI - cfg.refresh_postpone - 1, (
            model.refreshes, cycles // t.tREFI)
    _report(result)


@cocotb.test()
async def test_onchip_random_traffic(dut):
    """Controller + on-chip memory model: random traffic, every read checked against numpy."""
    params = params_from_env()
    tb = HBMTB(dut, design_config(params["design"]), device=False)
    await tb.start()
    count = 300 * soak_factor()
    await tb.run(_random_requests(tb, count))
    await tb.drain(count * 200 + 5000)
    # Read every line back (through the controller) and compare with the image.
    cfg = tb.config
    lines = cfg.geometry.capacity_bytes // cfg.line_bytes
    await tb.run((READ, k * cfg.line_bytes) for k in range(min(lines, 512)))
    await tb.drain(512 * 100 + 5000)
    dut._log.info("%d requests, %d reads checked", tb.sent, tb.scoreboard.matched)
