"""cocotb tests of the network interfaces: memory requests from clients to homes and back.

The design is :class:`verif.noc.memory_system.MeshMemorySystem`. Every home has a memory model
that takes requests under random backpressure, applies writes (byte mask) and answers reads
after random delays, out of order. Each client works on lines of its own (line ``n`` belongs to
client ``n % clients``), so the data every read must return follows from that client's program
order alone (``LineMemory``): the network must keep a client's requests to one line in order.

On two dies (``dies`` = 2 in ``BRGPU_PARAMS``, with the link's ``link`` fields) the design's
lanes are carried by :class:`verif.link.channel.WireChannel` models with the bit errors of
``errors``, and clients reach homes on the other die across the link.
"""

import collections
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hdl.cache.protocol import MemOp, mem_request_layout, mem_response_layout
from hdl.link.d2d import D2DConfig
from hdl.link.noc.interface import extended_id_width
from verif.link.channel import WireChannel
from verif.noc.tb import config_from_env, params_from_env, soak_factor
from verif.scoreboard import Scoreboard
from verif.stream import CycleCounter, StreamMonitor, StreamSink, StreamSource


class LineMemory:
    """Lines of ``line_bytes`` bytes, all zero at first; writes honour the byte mask."""

    def __init__(self, line_bytes):
        self.line_bytes = line_bytes
        self.lines = collections.defaultdict(int)

    def write(self, addr, data, mask):
        """Store the bytes of ``data`` whose ``mask`` bit is set into the line at ``addr``."""
        keep = sum(0xFF << (8 * i) for i in range(self.line_bytes) if mask >> i & 1)
        self.lines[addr] = (self.lines[addr] & ~keep) | (data & keep)

    def read(self, addr):
        """Return the line at ``addr``."""
        return self.lines[addr]


class MemoryTB:
    """Clients with request sources and response sinks; homes with memory models."""

    def __init__(self, dut):
        self.dut = dut
        self.config = cfg = config_from_env()
        params = params_from_env()
        self.clients, self.homes = params["clients"], params["homes"]
        self.addr_width, self.line_bytes = params["addr_width"], params["line_bytes"]
        self.id_width = params["id_width"]
        self.rng = random.Random(cocotb.RANDOM_SEED)
        wide = extended_id_width(cfg, self.id_width)
        req = mem_request_layout(addr_width=self.addr_width, line_bytes=self.line_bytes,
                                 id_width=self.id_width)
        resp = mem_response_layout(line_bytes=self.line_bytes, id_width=self.id_width)
        mem_req = mem_request_layout(addr_width=self.addr_width, line_bytes=self.line_bytes,
                                     id_width=wide)
        mem_resp = mem_response_layout(line_bytes=self.line_bytes, id_width=wide)
        clk, rst = dut.clk, dut.rst
        self.counter = CycleCounter(clk)
        p = self.rng.choice
        self.req = [StreamSource(dut, f"req__{i}", clk, req, rng=self.rng,
                                 valid_prob=p([0.3, 0.8, 1.0]), reset=rst)
                    for i in range(len(self.clients))]
        self.resp = [StreamSink(dut, f"resp__{i}", clk, resp, rng=self.rng,
                               ready_prob=p([0.3, 0.8, 1.0]), reset=rst)
                     for i in range(len(self.clients))]
        self.mem_req = [StreamSink(dut, f"mem_req__{j}", clk, mem_req, rng=self.rng,
                                  ready_prob=p([0.3, 0.8, 1.0]), reset=rst)
                        for j in range(len(self.homes))]
        self.mem_resp = [StreamSource(dut, f"mem_resp__{j}", clk, mem_resp, rng=self.rng,
                                      valid_prob=p([0.3, 0.8, 1.0]), reset=rst)
                         for j in range(len(self.homes))]
        self.monitors = [StreamMonitor(dut, name, clk, layout, reset=rst)
                         for prefix, layout, count in (
                             ("req", req, len(self.clients)), ("resp", resp, len(self.clients)),
                             ("mem_req", mem_req, len(self.homes)),
                             ("mem_resp", mem_resp, len(self.homes)))
                         for name in [f"{prefix}__{i}" for i in range(count)]]
        self.memories = [LineMemory(self.line_bytes) for _ in self.homes]
        self.golden = [LineMemory(self.line_bytes) for _ in self.clients]
        self.scoreboards = [Scoreboard(f"client {c} responses") for c in self.clients]
        self.channels = []
        if cfg.dies == 2:
            # Two dies: the wires between the link ends, with the errors of ``errors``.
            link = D2DConfig(**params["link"])
            rngs = np.random.default_rng(cocotb.RANDOM_SEED).spawn(2)
            for d in range(2):
                channel = WireChannel(getattr(dut, f"lane_tx__{d}"),
                                      getattr(dut, f"lane_rx__{1 - d}"), clk, link, rng=rngs[d])
                channel.set_errors(**params.get("errors", {}))
                self.channels.append(channel)
        self.home_requests = [0] * len(self.homes)
        self.cross_die_requests = 0
        self.issued = 0
        self.lines_per_client = (1 << self.addr_width) // self.line_bytes // len(self.clients)

    async def start(self):
        """Start the clock, drivers, monitors and memory models; reset the design."""
        Clock(self.dut.clk, 10, unit="ns").start()
        cocotb.start_soon(self.counter.run())
        for driver in self.req + self.resp + self.mem_req + self.mem_resp:
            cocotb.start_soon(driver.run(self.counter))
        for monitor in self.monitors:
            cocotb.start_soon(monitor.run(self.counter))
        for j in range(len(self.homes)):
            cocotb.start_soon(self._memory(j))
        for channel in self.channels:
            cocotb.start_soon(channel.run())
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def home_of(self, addr):
        """The home node of ``addr``: line interleaving over the homes."""
        return self.homes[(addr // self.line_bytes) % len(self.homes)]

    async def _memory(self, j):
        """Memory model of home ``j``: apply requests in arrival order, answer out of order."""
        sink, source, memory = self.mem_req[j], self.mem_resp[j], self.memories[j]
        pending = []
        cfg = self.config
        while True:
            await RisingEdge(self.dut.clk)
            while sink.received:
                request = sink.received.popleft()
                self.home_requests[j] += 1
                addr, wide = request["addr"], request["id"]
                src_x = (wide >> self.id_width) & ((1 << cfg.x_width) - 1)
                src_y = (wide >> (self.id_width + cfg.x_width)) & ((1 << cfg.y_width) - 1)
                src_die = wide >> (self.id_width + cfg.x_width + cfg.y_width)
                src = cfg.global_node(src_x, src_y, src_die)
                self.cross_die_requests += src_die != self.homes[j] // cfg.nodes
                owner = self.clients[(addr // self.line_bytes) % len(self.clients)]
                assert src == owner, f"home {self.homes[j]}: request {request} from node {src}" \
                                     f", but line {addr:#x} belongs to node {owner}"
                assert self.home_of(addr) == self.homes[j], \
                    f"request for {addr:#x} reached home {self.homes[j]}"
                if request["op"] == MemOp.WRITE.value:
                    memory.write(addr, request["data"], request["mask"])
                else:
                    pending.append({"data": memory.read(addr), "id": wide})
            if pending and not source.queue and self.rng.random() < 0.5:
                source.send(pending.pop(self.rng.randrange(len(pending))))

    def issue(self, client, count):
        """Queue ``count`` random requests of ``client``; reads get IDs unique in the batch."""
        reads = 0
        self.issued += count
        full = (1 << (8 * self.line_bytes)) - 1
        for _ in range(count):
            line = self.rng.randrange(self.lines_per_client) * len(self.clients) + client
            addr = line * self.line_bytes
            if self.rng.random() < 0.5 or reads == 1 << self.id_width:
                data = self.rng.getrandbits(8 * self.line_bytes)
                mask = self.rng.choice([(1 << self.line_bytes) - 1,
                                        self.rng.getrandbits(self.line_bytes)])
                self.req[client].send({"op": MemOp.WRITE.value, "addr": addr, "id": 0,
                                       "data": data & full, "mask": mask})
                self.golden[client].write(addr, data, mask)
            else:
                self.req[client].send({"op": MemOp.READ.value, "addr": addr, "id": reads,
                                       "data": 0, "mask": 0})
                self.scoreboards[client].expect(self.golden[client].read(addr), key=reads)
                reads += 1
        return reads

    async def finish_batch(self, timeout_cycles):
        """Check responses until every expected one arrived; fail on extras."""
        deadline = self.counter.cycle + timeout_cycles
        while True:
            for i, sink in enumerate(self.resp):
                while sink.received:
                    beat = sink.received.popleft()
                    self.scoreboards[i].check(beat["data"], key=beat["id"],
                                              where=f"(cycle {self.counter.cycle})")
            outstanding = sum(s.outstanding for s in self.scoreboards)
            idle = all(source.idle for source in self.req)
            if outstanding == 0 and idle:
                break
            assert self.counter.cycle < deadline, (
                f"timeout at cycle {self.counter.cycle}: {outstanding} responses missing")
            await RisingEdge(self.dut.clk)
        await ClockCycles(self.dut.clk, 40)
        for sink in self.resp:
            assert not sink.received, f"extra responses: {list(sink.received)[:2]}"
        for monitor in self.monitors:
            assert not monitor.errors, monitor.errors


@cocotb.test()
async def test_reads_see_own_writes(dut):
    """Random reads and writes from every client; reads return the latest own write."""
    tb = MemoryTB(dut)
    await tb.start()
    reads = 0
    for _ in range(6 * soak_factor()):
        for c in range(len(tb.clients)):
            reads += tb.issue(c, tb.rng.randrange(4, 24))
        await tb.finish_batch(20000)
    # Writes have no response: the last ones may still be in the network when the last read
    # is answered. Wait for every request to reach its home, then a while longer so a
    # duplicate would show up in the count too.
    deadline = tb.counter.cycle + 20000
    while sum(tb.home_requests) < tb.issued and tb.counter.cycle < deadline:
        await RisingEdge(dut.clk)
    await ClockCycles(dut.clk, 200)
    total = sum(tb.home_requests)
    assert reads > 0
    assert total == tb.issued, f"{total} requests reached the homes, {tb.issued} were issued"
    dut._log.info("%d requests reached their homes, %d reads answered bit-exact", total, reads)
    if tb.channels:
        assert tb.cross_die_requests > 0, "no request crossed the link"
        flipped = [c.bits_flipped for c in tb.channels]
        dut._log.info("two dies: %d requests crossed the link; bits flipped on the wires per "
                      "direction %s", tb.cross_die_requests, flipped)
