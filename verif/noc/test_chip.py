"""cocotb tests of two dies joined by the die-to-die link, against the delivery reference.

The design is :class:`hdl.link.noc.TwoDieNetwork` with its lanes as ports; one
:class:`~verif.link.channel.WireChannel` per direction carries them. Nodes are global
(``die * nodes + y * k + x``); :func:`verif.models.noc.expected_delivery` and
:func:`~verif.models.noc.check_delivery` say what must arrive where. Run through
``tests/test_chip_network.py`` or ``synth/bench_chip.py``; ``SEED=n`` replays a run.
"""

import json
import os

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge

from hdl.link.noc import VC_REQUEST, VC_RESPONSE
from verif.models.noc import chip_hops, uniform_random
from verif.noc.chip_tb import ChipTB, chip_config_from_env
from verif.params import params_from_env, soak_factor


def _mean(values):
    return sum(values) / len(values) if values else None


def _budget(tb, packets):
    # The fpga link carries one flit per beats_per_flit cycles each way.
    return (80 * packets // tb.nodes + 4 * tb.link.beats_per_flit * packets
            + 40 * (tb.config.k + tb.config.l) + 3000)


def _every_pair(tb, rounds):
    """Queue ``rounds`` packets from every node to every node (itself included), random VC.

    Each round sends every source's destinations in a fresh random order, so flows to the
    other die interleave with flows on the die.
    """
    for _ in range(rounds):
        for src in range(tb.nodes):
            dests = list(range(tb.nodes))
            tb.rng.shuffle(dests)
            for dest in dests:
                tb.send(src, dest, tb.rng.randrange(tb.config.vcs))
    return rounds * tb.nodes * tb.nodes


async def _wait_active(tb, timeout_cycles=3000):
    deadline = tb.counter.cycle + timeout_cycles
    while any(tb.status(d)["state"] != 2 for d in range(2)):
        assert tb.counter.cycle < deadline, f"link not active: {tb.status(0)} {tb.status(1)}"
        await RisingEdge(tb.dut.clk)


@cocotb.test()
async def test_uniform_every_pair(dut):
    """Every node to every node on both dies, error-free wires, gaps and backpressure."""
    tb = ChipTB(dut, chip_config_from_env())
    await tb.start()
    queued = _every_pair(tb, 3 * soak_factor())
    crossing = sum(1 for q in tb.queued.values() for p in q if tb.cross_die(p.src, p.dest))
    checked = await tb.drain(_budget(tb, queued))
    assert checked == queued
    for die in range(2):
        status = tb.status(die)
        assert status["state"] == 2 and status["flit_errors"] == 0, status
        assert status["data_flits"] > 0
    sent_by_links = tb.status(0)["data_flits"] + tb.status(1)["data_flits"]
    assert sent_by_links == crossing, (
        f"the links sent {sent_by_links} new flits for {crossing} cross-die packets")
    dut._log.info("%d packets delivered once, in order per flow; %d crossed the link",
                  checked, crossing)


@cocotb.test()
async def test_bit_errors(dut):
    """Every pair with random bit errors (BER 1e-4) and 16-bit bursts on both directions.

    Traffic continues in rounds until each direction has corrupted beats and both link ends
    have counted flit errors and some data flit was retransmitted, so the run proves that
    replay hides real errors.
    """
    tb = ChipTB(dut, chip_config_from_env())
    await tb.start()
    tb.set_errors(ber=1e-4, burst_prob=2e-3, burst_bits=16)
    queued = 0
    # Most errors land on idle control flits, which cost a NAK but retransmit nothing, so the
    # rounds go on until a data flit was actually sent again (typically 2-9 rounds; 60 is a
    # cap far in the tail, where the assertions below then report what was missing).
    for round_index in range(60 * soak_factor()):
        queued += _every_pair(tb, 1)
        checked = await tb.drain(_budget(tb, queued))
        assert checked == queued
        hit = all(c.beats_corrupted >= 3 for c in tb.channels)
        replayed = all(tb.status(d)["flit_errors"] > 0 for d in range(2)) and \
            sum(tb.status(d)["retransmissions"] for d in range(2)) > 0
        if hit and replayed and round_index >= 1:
            break
    channels = [(c.beats_corrupted, c.bits_flipped, c.bursts) for c in tb.channels]
    statuses = [tb.status(d) for d in range(2)]
    dut._log.info("%d packets checked; corrupted beats/bits/bursts per direction %s; "
                  "flit errors %s, replays %s, retransmissions %s, retrains %s", queued,
                  channels, [s["flit_errors"] for s in statuses],
                  [s["replays"] for s in statuses], [s["retransmissions"] for s in statuses],
                  [s["retrains"] for s in statuses])
    assert all(c.beats_corrupted > 0 for c in tb.channels), "no errors were injected"
    assert all(s["flit_errors"] > 0 for s in statuses), "the links saw no bad flit"
    assert sum(s["retransmissions"] for s in statuses) > 0, "nothing was replayed"


@cocotb.test()
async def test_fill_and_drain(dut):
    """Fill both dies and the link with every ejection port blocked; responses must drain
    across the link past the stuck requests, then the requests drain.

    Every node offers packets of both classes, half of them to the other die, until no
    injection port has made progress for a while. Then only the response ejection ports are
    released: every response (also those that must cross the link, whose request VC is full
    end to end) must arrive. Then the request ports are released under backpressure.
    """
    cfg = chip_config_from_env()
    tb = ChipTB(dut, cfg)
    await tb.start()
    await _wait_active(tb)
    for sink in tb.sinks.values():
        sink.paused = True
    mesh = cfg.mesh
    per_node = 5 * mesh.vcs * mesh.buffer_depth + 2 * cfg.link.rx_credits
    nodes = tb.nodes
    for _ in range(per_node):
        for src in range(nodes):
            for vc in (VC_REQUEST, VC_RESPONSE):
                other = (src // mesh.nodes) ^ 1
                if tb.rng.random() < 0.5:
                    dest = other * mesh.nodes + tb.rng.randrange(mesh.nodes)
                else:
                    dest = uniform_random(tb.rng, nodes, src, allow_self=True)
                tb.send(src, dest, vc)
    await tb.wait_until_full(200)
    queued = per_node * nodes * 2
    assert tb.received == 0
    assert tb.sent < queued, "the network absorbed every packet: it was never full"
    credits = [tb.status(d)["credits"] for d in range(2)]
    dut._log.info("full: %d of %d packets in the network; link credits per die %s", tb.sent,
                  queued, credits)
    responses = per_node * nodes
    checked = await tb.drain_responses_first(queued, _budget(tb, 2 * responses),
                                             _budget(tb, 2 * queued))
    assert checked == queued


@cocotb.test()
async def test_reset_mid_traffic(dut):
    """Reset both dies while packets are in flight on the dies and the link, then check that a
    clean run of every-pair traffic is delivered exactly (the link retrains after the reset)."""
    tb = ChipTB(dut, chip_config_from_env())
    await tb.start()
    for _ in range(2 * soak_factor()):
        _every_pair(tb, 1)
        await _wait_active(tb)
        await ClockCycles(dut.clk, tb.rng.randrange(10, 60))
        dut._log.info("reset at cycle %d after %d packets in, %d out", tb.counter.cycle,
                      tb.sent, tb.received)
        await tb.reset(cycles=tb.rng.randrange(1, 4))
        queued = _every_pair(tb, 1)
        checked = await tb.drain(_budget(tb, queued))
        assert checked == queued


@cocotb.test()
async def test_zero_load_latency(dut):
    """One packet at a time between every pair; on a die ``2 + 2 * hops`` exactly, across the
    link ``2 + 2 * links`` plus the link's share, the same for every pair up to the flit-slot
    phase (``beats_per_flit - 1`` cycles)."""
    cfg = chip_config_from_env()
    tb = ChipTB(dut, cfg, stress=False)
    await tb.start()
    await _wait_active(tb)
    await ClockCycles(dut.clk, 20)
    mesh = cfg.mesh
    pairs = [(s, d) for s in range(tb.nodes) for d in range(tb.nodes)]
    for index, (src, dest) in enumerate(pairs):
        tb.send(src, dest, index % mesh.vcs)
        while tb.received < index + 1:
            await RisingEdge(dut.clk)
        await ClockCycles(dut.clk, 2 + tb.rng.randrange(cfg.link.beats_per_flit))
    checked = await tb.drain(1000)
    assert checked == len(pairs)
    shares = []
    on_die = {}
    for packet, _created, inject, eject in tb.latencies():
        links, crossings = chip_hops(mesh.k, mesh.l, mesh.gateway, packet.src, packet.dest)
        latency = eject - inject
        assert links == cfg.mesh_hops(packet.src, packet.dest)
        if crossings:
            shares.append(latency - mesh.zero_load_latency(links))
        else:
            assert latency == mesh.zero_load_latency(links), (
                f"{packet}: {latency} cycles over {links} hops")
            on_die[links] = latency
    low, high = min(shares), max(shares)
    assert high - low <= cfg.link.beats_per_flit - 1, (low, high)
    dut._log.info("on-die latency by hops %s; link share %d..%d cycles over %d cross-die pairs",
                  dict(sorted(on_die.items())), low, high, len(shares))
    out = os.environ.get("BRGPU_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump({"on_die_by_hops": {str(h): c for h, c in sorted(on_die.items())},
                       "link_share_min": low, "link_share_max": high,
                       "link_share_mean": sum(shares) / len(shares),
                       "cross_pairs": len(shares)}, f)


@cocotb.test()
async def test_cross_die_throughput(dut):
    """Open-loop traffic at one offered load; report accepted and cross-die throughput.

    Every node creates a packet with probability ``load`` per cycle (Bernoulli) into an
    unbounded source queue, destination uniform over the other nodes of both dies
    (``pattern="uniform"``) or over the other die's nodes (``pattern="cross"``), VC at random;
    ejection always ready. Over a window after a warm-up it counts the packets delivered and
    those that crossed the link, reported as flits/node/cycle and flits/cycle per link
    direction (the link carries at most one flit per ``beats_per_flit`` cycles each way).
    Every packet is checked against the reference after the run.
    """
    cfg = chip_config_from_env()
    params = params_from_env()
    warmup, window = int(params.get("warmup", 200)), int(params.get("window", 600))
    load = float(params.get("load", 0.25))
    pattern = params.get("pattern", "uniform")
    tb = ChipTB(dut, cfg, stress=False)
    await tb.start()
    await _wait_active(tb)
    mesh = cfg.mesh
    start = tb.log.cycle
    for _ in range(warmup + window):
        for src in range(tb.nodes):
            if tb.rng.random() >= load:
                continue
            if pattern == "cross":
                dest = ((src // mesh.nodes) ^ 1) * mesh.nodes + tb.rng.randrange(mesh.nodes)
            else:
                dest = uniform_random(tb.rng, tb.nodes, src)
            tb.send(src, dest, tb.rng.randrange(mesh.vcs), created=tb.log.cycle)
        await RisingEdge(dut.clk)
    begin, end = start + warmup, start + warmup + window
    delivered = crossed = 0
    for packet, _created, _inject, eject in tb.latencies():
        if begin < eject <= end:
            delivered += 1
            crossed += tb.cross_die(packet.src, packet.dest)
    total = sum(len(q) for q in tb.queued.values())
    checked = await tb.drain(_budget(tb, total))
    assert checked == total
    latency = {True: [], False: []}
    for packet, created, _inject, eject in tb.latencies():
        if begin <= created < end:
            latency[tb.cross_die(packet.src, packet.dest)].append(eject - created)
    per_direction = crossed / window / 2
    bound = 1 / cfg.link.beats_per_flit
    report = {"pattern": pattern, "load": load, "window": window, "warmup": warmup,
              "accepted_per_node": delivered / window / tb.nodes,
              "cross_flits_per_cycle_per_direction": per_direction,
              "link_flits_per_cycle_bound": bound, "packets": checked,
              "offered_per_node": sum(len(latency[c]) for c in latency) / window / tb.nodes,
              "mean_latency_cross": _mean(latency[True]),
              "mean_latency_on_die": _mean(latency[False])}
    dut._log.info("throughput %s", report)
    assert delivered > 0 and crossed > 0
    out = os.environ.get("BRGPU_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump(report, f)
