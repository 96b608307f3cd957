"""cocotb tests of the L2 cache slice against the golden model ``verif.models.cache``.

Run through ``tests/test_cache_slice.py`` (pytest); the configuration arrives in
``BRGPU_PARAMS``. Every random choice comes from the logged seed (``SEED=n`` replays it).
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from hdl.cache import CacheOp
from verif.cache.tb import CacheTB, config_from_env, params_from_env, soak_factor


def _addr(cfg, tag, index, word=0):
    return (((tag * cfg.sets) + index) * cfg.line_bytes) + word * cfg.data_bytes


def _random_requests(tb, count, pattern):
    """Queue ``count`` random requests whose addresses follow ``pattern``."""
    cfg, rng = tb.config, tb.rng
    tags = len(tb.image) // (cfg.sets * cfg.line_bytes)
    words = cfg.words_per_line
    hot_sets = [rng.randrange(cfg.sets) for _ in range(2)]
    hot_tags = rng.sample(range(tags), min(tags, 2 * cfg.ways + 1))
    stream_addr = rng.randrange(0, len(tb.image) // 2, cfg.data_bytes)
    for _ in range(count):
        if pattern == "hot_set":
            addr = _addr(cfg, rng.choice(hot_tags), rng.choice(hot_sets), rng.randrange(words))
        elif pattern == "streaming":
            addr = stream_addr
            stream_addr = (stream_addr + cfg.data_bytes) % len(tb.image)
        else:  # random over 4x the capacity
            addr = rng.randrange(0, 4 * cfg.capacity, cfg.data_bytes)
        choice = rng.random()
        if choice < 0.5:
            tb.read(addr)
        elif choice < 0.9:
            mask = (1 << cfg.data_bytes) - 1 if rng.random() < 0.5 else \
                rng.randrange(1 << cfg.data_bytes)
            tb.write(addr, mask=mask)
        elif choice < 0.95:
            tb.issue(CacheOp.FLUSH_LINE, addr)
        elif choice < 0.99:
            tb.issue(CacheOp.INVALIDATE_LINE, addr)
        elif choice < 0.995:
            tb.issue(CacheOp.FLUSH_ALL)
        else:
            tb.issue(CacheOp.INVALIDATE_ALL)


@cocotb.test()
async def test_directed(dut):
    """Cold misses, hits, byte-enable merging, dirty conflict evictions, flush/invalidate."""
    cfg = config_from_env()
    tb = CacheTB(dut, cfg)
    await tb.start()
    a = _addr(cfg, 1, 3 % cfg.sets)
    # Cold miss, then hits on the same line.
    assert tb.read(a).hit is False
    assert tb.read(a).hit is True
    assert tb.read(a + cfg.data_bytes * (cfg.words_per_line - 1)).hit is True
    # Byte-enable merging: two partial writes to one word, then read it back.
    tb.write(a, data=np.full(cfg.data_bytes, 0xAA), mask=0b0101 & ((1 << cfg.data_bytes) - 1))
    tb.write(a, data=np.full(cfg.data_bytes, 0x55), mask=0b0010)
    merged = tb.read(a)
    assert merged.data[0] == 0xAA and merged.data[1] == 0x55 and merged.data[2] == 0xAA
    await tb.drain()
    assert tb.memory.writes == 0
    # Conflict evictions: ways + 1 dirty lines in one set force a dirty write-back.
    for tag in range(2, cfg.ways + 3):
        tb.write(_addr(cfg, tag, 3 % cfg.sets))
    await tb.drain()
    assert tb.model.counters["evictions"] >= 2 and tb.memory.writes >= 1
    assert tb.memory.writes == tb.model.counters["writebacks"]
    tb.check_counters()
    # Flush a dirty line (one write-back), flush it again (clean: none), invalidate it.
    b = _addr(cfg, 7, 5 % cfg.sets)
    tb.write(b)
    tb.issue(CacheOp.FLUSH_LINE, b)
    await tb.drain()
    writes = tb.memory.writes
    assert writes == tb.model.counters["writebacks"]
    tb.issue(CacheOp.FLUSH_LINE, b)
    tb.issue(CacheOp.INVALIDATE_LINE, b)
    await tb.drain()
    assert tb.memory.writes == writes
    assert tb.read(b).hit is False
    # Invalidate a dirty line: the write is lost, memory keeps the older data.
    before = tb.read(b + cfg.data_bytes).data
    tb.write(b + cfg.data_bytes, data=before ^ 0xFF)
    tb.issue(CacheOp.INVALIDATE_LINE, b)
    after = tb.read(b + cfg.data_bytes)
    assert after.hit is False and np.array_equal(after.data, before)
    # Flush/invalidate of absent lines, INVALIDATE_ALL and FLUSH_ALL.
    tb.issue(CacheOp.FLUSH_LINE, _addr(cfg, 9, 0))
    tb.issue(CacheOp.INVALIDATE_LINE, _addr(cfg, 9, 0))
    tb.write(_addr(cfg, 4, 1 % cfg.sets))
    tb.issue(CacheOp.INVALIDATE_ALL)
    assert tb.read(a).hit is False
    for index in range(cfg.sets):
        tb.write(_addr(cfg, 5, index))
    await tb.drain()
    tb.check_counters()
    await tb.check_memory()
    assert tb.model.counters["writebacks"] == tb.memory.writes


@cocotb.test()
async def test_non_blocking(dut):
    """Hit-under-miss, miss-under-miss, merging, MSHR-full stall and same-line order."""
    cfg = config_from_env()
    tb = CacheTB(dut, cfg, stress=False)
    await tb.start()
    latency = 40
    tb.memory.min_latency = tb.memory.max_latency = latency
    present = [_addr(cfg, 1, index) for index in range(2)]
    for addr in present:
        tb.read(addr)
    await tb.drain()
    # A miss, then hits to other lines: the hits are answered before the miss.
    miss = tb.read(_addr(cfg, 2, 4 % cfg.sets))
    hits = [tb.read(present[i % 2]) for i in range(6)]
    await tb.drain()
    assert miss.hit is False and all(r.hit for r in hits)
    assert tb.order.index(miss.req_id) > tb.order.index(hits[-1].req_id), tb.order
    # A second and third request to a line being filled merge into its MSHR (as far as it has
    # target slots; a request finding them full waits and then hits), answered in order.
    tb.order.clear()
    merged_before = tb.merged_seen
    line = _addr(cfg, 3, 5 % cfg.sets)
    first = tb.read(line)
    second = tb.write(line)
    third = tb.read(line)
    await tb.drain()
    assert first.hit is False and second.hit and third.hit
    assert tb.merged_seen - merged_before == min(2, cfg.mshr_targets - 1)
    assert tb.order == [first.req_id, second.req_id, third.req_id]
    assert tb.memory.reads == len(present) + 2
    # Misses to more lines than MSHRs: the fills overlap, up to the number of MSHRs.
    tb.memory.max_in_flight = 0
    start = tb.counter.cycle
    misses = [tb.read(_addr(cfg, 4 + k // cfg.sets, k % cfg.sets)) for k in range(2 * cfg.mshrs)]
    await tb.drain()
    cycles = tb.counter.cycle - start
    assert not any(r.hit for r in misses)
    assert tb.memory.max_in_flight == min(cfg.mshrs, len(misses)), tb.memory.max_in_flight
    dut._log.info("%d misses with %d MSHRs and latency %d: %d cycles", len(misses), cfg.mshrs,
                  latency, cycles)
    assert cycles < (len(misses) // cfg.mshrs + 1) * (latency + 10) + 20
    tb.check_counters()
    await tb.check_memory()


@cocotb.test()
async def test_random_traffic(dut):
    """Hot-set, streaming and random-over-4x-capacity traffic, stressed on all five streams."""
    cfg = config_from_env()
    params = params_from_env()
    tb = CacheTB(dut, cfg)
    await tb.start()
    count = int(params.get("random_requests", 400)) * soak_factor()
    for pattern in ("hot_set", "streaming", "random", "hot_set", "random"):
        _random_requests(tb, count // 5, pattern)
        await tb.drain()
        tb.check_counters()
    hits = sum(1 for hit in tb.model_hits if hit)
    misses = sum(1 for hit in tb.model_hits if hit is False)
    dut._log.info("%d requests: model %d hits, %d misses; slice counters %s; %d cycles",
                  tb.issued, hits, misses, tb.counters(), tb.counter.cycle)
    assert hits and misses
    await tb.check_memory()


@cocotb.test()
async def test_reset_mid_traffic(dut):
    """Reset while requests, fills and write-backs are in flight, then a clean checked run."""
    cfg = config_from_env()
    tb = CacheTB(dut, cfg)
    await tb.start()
    for _ in range(2 * soak_factor()):
        _random_requests(tb, 60, "hot_set")
        await ClockCycles(dut.clk, tb.rng.randrange(5, 200))
        dut._log.info("reset at cycle %d after %d requests", tb.counter.cycle, tb.req.sent)
        await tb.reset(cycles=tb.rng.randrange(1, 4))
        assert tb.counters() == dict(hits=0, misses=0, merges=0, evictions=0, writebacks=0)
        _random_requests(tb, 80, "random")
        await tb.drain()
        await tb.check_memory()


@cocotb.test()
async def test_hit_latency_and_throughput(dut):
    """Count cycles: a hit answers within 3 cycles and hits flow at one per cycle."""
    cfg = config_from_env()
    tb = CacheTB(dut, cfg, stress=False)
    await tb.start()
    lines = [_addr(cfg, index // cfg.sets, index % cfg.sets)
             for index in range(min(4, cfg.lines))]
    for line in lines:
        tb.write(line)
    await tb.drain()
    # One hit on an idle slice.
    tb.read(lines[0])
    await tb.drain()
    latency = tb.resp.last_handshake - tb.req.last_handshake
    # Back-to-back hits (reads and writes) on an idle slice.
    count = 64
    tb.req.first_handshake = None
    for i in range(count):
        addr = lines[i % len(lines)] + (i % cfg.words_per_line) * cfg.data_bytes
        if i % 3:
            tb.read(addr)
        else:
            tb.write(addr)
    await tb.drain()
    cycles = tb.resp.last_handshake - tb.req.first_handshake + 1
    report = {"hit_latency": latency, "hits": count, "cycles": cycles,
              "hits_per_cycle": count / (cycles - latency)}
    # Back-to-back hits streaming through one line (every request reads the set the one
    # before it writes: forwarding), and alternating between two sets.
    for name, addrs in (("same_line", [lines[0] + (i % cfg.words_per_line) * cfg.data_bytes
                                       for i in range(count)]),
                        ("two_sets", [lines[i % 2] for i in range(count)])):
        tb.req.first_handshake = None
        for i, addr in enumerate(addrs):
            if i % 3:
                tb.read(addr)
            else:
                tb.write(addr)
        await tb.drain()
        report[f"cycles_{name}"] = tb.resp.last_handshake - tb.req.first_handshake + 1
    # One miss with a one-cycle memory (cold line, clean victim).
    tb.read(_addr(cfg, 3, 7 % cfg.sets))
    await tb.drain()
    report["miss_latency_mem1"] = tb.resp.last_handshake - tb.req.last_handshake
    dut._log.info("hit timing: %s", report)
    out = os.environ.get("BRGPU_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump(report, f)
    assert all(hit is not False for hit in tb.model_hits[len(lines):len(lines) + 1 + 3 * count])
    assert latency <= 3, f"hit latency {latency} cycles"
    assert cycles == count + latency, f"{count} hits took {cycles} cycles"
    assert report["cycles_same_line"] == report["cycles_two_sets"] == count + latency, report
    tb.check_counters()


@cocotb.test()
async def test_throughput(dut):
    """Count cycles for a stream with a fixed share of misses and a fixed memory latency.

    Hits go to one resident line in each set of the lower half of the sets (75 % reads), misses
    to lines of the upper half that are never used again, so exactly ``miss_rate`` of the
    measured requests miss. Every response is still checked against the model.
    """
    cfg = config_from_env()
    params = params_from_env()
    count = int(params.get("bench_requests", 400))
    miss_rate = float(params.get("miss_rate", 0.1))
    latency = int(params.get("bench_latency", 100))
    tb = CacheTB(dut, cfg, stress=False, latency=(latency, latency))
    await tb.start()
    half = max(1, cfg.sets // 2)
    hot = [_addr(cfg, 0, index) for index in range(half)]
    for addr in hot:
        tb.read(addr)
    await tb.drain(timeout=len(hot) * (latency + 20) + 1000)
    misses = set(tb.rng.sample(range(count), round(count * miss_rate)))
    next_miss = 0
    tb.req.first_handshake = None
    first = len(tb.model_hits)
    for i in range(count):
        if i in misses:
            index = half + next_miss % (cfg.sets - half) if cfg.sets > 1 else 0
            tb.read(_addr(cfg, 1 + next_miss // max(1, cfg.sets - half), index))
            next_miss += 1
        else:
            addr = tb.rng.choice(hot) + tb.rng.randrange(cfg.words_per_line) * cfg.data_bytes
            if tb.rng.random() < 0.75:
                tb.read(addr)
            else:
                tb.write(addr)
    await tb.drain(timeout=count * (latency + 20) + 1000)
    cycles = tb.resp.last_handshake - tb.req.first_handshake + 1
    model_misses = sum(1 for hit in tb.model_hits[first:] if hit is False)
    report = {"mshrs": cfg.mshrs, "requests": count, "misses": model_misses,
              "miss_rate": model_misses / count, "memory_latency": latency, "cycles": cycles,
              "requests_per_cycle": count / cycles, "counters": tb.counters()}
    dut._log.info("throughput report: %s", report)
    out = os.environ.get("BRGPU_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump(report, f)
    assert model_misses == len(misses)
    tb.check_counters()
    await tb.check_memory()
