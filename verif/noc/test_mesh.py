"""cocotb tests of the 2D mesh against the cycle-free delivery reference.

Run through ``tests/test_mesh.py`` (pytest) or ``synth/bench_mesh.py``; the configuration
arrives in ``BRGPU_PARAMS``. Every random choice comes from the logged seed (``SEED=n``).
"""

import json
import os

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge

from hdl.link.noc import VC_REQUEST, VC_RESPONSE
from verif.models.noc import hops, hotspot, transpose, uniform_random
from verif.noc.tb import MeshTB, config_from_env, params_from_env, soak_factor


def _budget(tb, packets):
    return 60 * packets // tb.config.nodes + 40 * (tb.config.k + tb.config.l) + 2000


@cocotb.test()
async def test_uniform_random(dut):
    """Uniform random destinations on random VCs, random gaps and backpressure on every port."""
    cfg = config_from_env()
    tb = MeshTB(dut, cfg)
    await tb.start()
    per_node = 48 * soak_factor()
    for _ in range(per_node):
        for src in range(cfg.nodes):
            tb.send(src, uniform_random(tb.rng, cfg.nodes, src, allow_self=True),
                    tb.rng.randrange(cfg.vcs))
    checked = await tb.drain(_budget(tb, per_node * cfg.nodes))
    assert checked == per_node * cfg.nodes
    dut._log.info("uniform random: %d packets delivered once, in order per flow", checked)


@cocotb.test()
async def test_transpose(dut):
    """Transpose traffic ((x, y) -> (y, x); node n -> nodes-1-n on a rectangular mesh)."""
    cfg = config_from_env()
    tb = MeshTB(dut, cfg)
    await tb.start()
    per_node = 48 * soak_factor()
    square = cfg.k == cfg.l
    for _ in range(per_node):
        for src in range(cfg.nodes):
            dest = transpose(cfg.k, cfg.l, src) if square else cfg.nodes - 1 - src
            tb.send(src, dest, tb.rng.randrange(cfg.vcs))
    checked = await tb.drain(_budget(tb, 4 * per_node * cfg.nodes))
    assert checked == per_node * cfg.nodes


@cocotb.test()
async def test_hotspot(dut):
    """Half of all packets go to one node, whose ejection ports are under backpressure."""
    cfg = config_from_env()
    tb = MeshTB(dut, cfg)
    await tb.start()
    spot = tb.rng.randrange(cfg.nodes)
    per_node = 16 * soak_factor()
    for _ in range(per_node):
        for src in range(cfg.nodes):
            dest = hotspot(tb.rng, cfg.nodes, src, spot=spot, fraction=0.5) \
                if src != spot else uniform_random(tb.rng, cfg.nodes, src)
            tb.send(src, dest, tb.rng.randrange(cfg.vcs))
    dut._log.info("hotspot node %d", spot)
    checked = await tb.drain(_budget(tb, 6 * per_node * cfg.nodes))
    assert checked == per_node * cfg.nodes


@cocotb.test()
async def test_fill_and_drain(dut):
    """Fill the network with every ejection port blocked, drain responses past the stuck
    requests, then drain the requests.

    Phase 1 holds ``ready`` low on every ejection port while every node offers more packets
    of both classes than the network can hold, until no injection port has made progress for
    a while (the network is full). Phase 2 releases the response ejection ports only: every
    response must arrive although every request buffer stays full (the classes share no
    buffer). Phase 3 releases the request ports under random backpressure.
    """
    cfg = config_from_env()
    tb = MeshTB(dut, cfg)
    await tb.start()
    for sink in tb.sinks.values():
        sink.paused = True
    capacity_per_node = 5 * cfg.vcs * cfg.buffer_depth + cfg.vcs
    per_node = 3 * capacity_per_node
    for _ in range(per_node):
        for src in range(cfg.nodes):
            for vc in (VC_REQUEST, VC_RESPONSE):
                tb.send(src, uniform_random(tb.rng, cfg.nodes, src, allow_self=True), vc)
    # Phase 1: fill until the injection ports stop accepting.
    await tb.wait_until_full(40)
    queued = per_node * cfg.nodes * 2
    assert tb.received == 0
    assert tb.sent < queued, "the network absorbed every packet: it was never full"
    assert tb.sent >= cfg.nodes * cfg.vcs * cfg.buffer_depth, tb.sent
    dut._log.info("full: %d of %d packets in the network", tb.sent, queued)
    # Phase 2: responses drain past the blocked requests; phase 3: requests drain.
    responses = per_node * cfg.nodes
    checked = await tb.drain_responses_first(queued, _budget(tb, 4 * responses),
                                             _budget(tb, 4 * queued))
    assert checked == queued


@cocotb.test()
async def test_reset_mid_traffic(dut):
    """Reset while packets are in flight everywhere, then check a clean run of traffic."""
    cfg = config_from_env()
    tb = MeshTB(dut, cfg)
    await tb.start()
    for _ in range(2 * soak_factor()):
        for _ in range(24):
            for src in range(cfg.nodes):
                tb.send(src, uniform_random(tb.rng, cfg.nodes, src), tb.rng.randrange(cfg.vcs))
        await ClockCycles(dut.clk, tb.rng.randrange(5, 40))
        dut._log.info("reset at cycle %d after %d packets in, %d out", tb.counter.cycle,
                      tb.sent, tb.received)
        await tb.reset(cycles=tb.rng.randrange(1, 4))
        for _ in range(6):
            for src in range(cfg.nodes):
                tb.send(src, uniform_random(tb.rng, cfg.nodes, src), tb.rng.randrange(cfg.vcs))
        checked = await tb.drain(_budget(tb, 6 * cfg.nodes))
        assert checked == 6 * cfg.nodes


@cocotb.test()
async def test_zero_load_latency(dut):
    """One packet at a time between every pair of nodes: ``2 + 2 * hops`` cycles each."""
    cfg = config_from_env()
    tb = MeshTB(dut, cfg, stress=False)
    await tb.start()
    pairs = [(s, d) for s in range(cfg.nodes) for d in range(cfg.nodes)]
    if len(pairs) > 48:
        # Both corner-to-corner routes (the longest) and a random sample of the rest.
        corners = [(0, cfg.nodes - 1), (cfg.k - 1, cfg.nodes - cfg.k)]
        pairs = corners + tb.rng.sample([p for p in pairs if p not in corners], 46)
    for index, (src, dest) in enumerate(pairs):
        tb.send(src, dest, index % cfg.vcs)
        while tb.received < index + 1:
            await RisingEdge(dut.clk)
        await ClockCycles(dut.clk, 2)
    checked = await tb.drain(1000)
    assert checked == len(pairs)
    worst = {}
    for packet, _created, inject, eject in tb.latencies():
        distance = hops(cfg.k, packet.src, packet.dest)
        latency = eject - inject
        assert latency == cfg.zero_load_latency(distance), (
            f"{packet}: {latency} cycles over {distance} hops, expected "
            f"{cfg.zero_load_latency(distance)}")
        worst[distance] = latency
    dut._log.info("zero-load latency by hops: %s", dict(sorted(worst.items())))
    out = os.environ.get("BRGPU_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump({"latency_by_hops": {str(h): c for h, c in sorted(worst.items())},
                       "pairs": len(pairs)}, f)


@cocotb.test()
async def test_load_sweep(dut):
    """Open-loop uniform random traffic at each offered load; report latency and throughput.

    Each node creates a packet with probability ``load`` every cycle (Bernoulli process,
    destination uniform over the other nodes, VC at random) into an unbounded source queue.
    Accepted throughput is counted over a measurement window after a warm-up; latency is
    from creation to ejection of packets created in the window. Ejection ports are always
    ready. The report goes to ``BRGPU_REPORT`` as JSON.
    """
    cfg = config_from_env()
    params = params_from_env()
    loads = params.get("loads", [0.1, 0.5, 1.0])
    warmup, window = int(params.get("warmup", 200)), int(params.get("window", 600))
    tb = MeshTB(dut, cfg, stress=False)
    await tb.start()
    points = []
    for load in loads:
        await tb.reset()
        start = tb.log.cycle
        for _ in range(warmup + window):
            created = tb.log.cycle
            for src in range(cfg.nodes):
                if tb.rng.random() < load:
                    tb.send(src, uniform_random(tb.rng, cfg.nodes, src),
                            tb.rng.randrange(cfg.vcs), created=created)
            await RisingEdge(dut.clk)
        begin, end = start + warmup, start + warmup + window
        ejected = sum(1 for name, cycles in tb.log.cycles.items() if name.startswith("eject")
                      for c in cycles if begin < c <= end)
        offered = sum(1 for created in tb.created.values() for c in created
                      if begin <= c < end)
        # Let the packets of the window drain so their latency counts too.
        await tb.drain(_budget(tb, 8 * sum(len(q) for q in tb.queued.values())))
        window_packets = [(eject - created, eject - inject, hops(cfg.k, p.src, p.dest))
                          for p, created, inject, eject in tb.latencies()
                          if begin <= created < end]
        count = len(window_packets)
        point = {
            "offered_load": load,
            "offered": offered / (cfg.nodes * window),
            "accepted": ejected / (cfg.nodes * window),
            "mean_latency": sum(t for t, _n, _h in window_packets) / count,
            "max_latency": max(t for t, _n, _h in window_packets),
            "mean_network_latency": sum(n for _t, n, _h in window_packets) / count,
            "mean_hops": sum(h for _t, _n, h in window_packets) / count,
            "packets": count,
        }
        dut._log.info("load point %s", point)
        points.append(point)
    report = {"k": cfg.k, "l": cfg.l, "vcs": cfg.vcs, "buffer_depth": cfg.buffer_depth,
              "warmup": warmup, "window": window, "points": points}
    out = os.environ.get("BRGPU_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump(report, f)
