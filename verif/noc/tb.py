"""cocotb testbench of the mesh: a source, a sink and two monitors per node and VC.

Every node ``n`` and virtual channel ``v`` of :class:`hdl.link.noc.Mesh` has a
:class:`~verif.stream.StreamSource` on ``inject__n__v`` (random valid gaps), a
:class:`~verif.stream.StreamSink` on ``eject__n__v`` (random ready backpressure, and
``paused`` to hold ``ready`` low), and a :class:`~verif.stream.StreamMonitor` on both.
A :class:`HandshakeLog` records the cycle of every handshake so that latencies can be
counted. Delivery is checked against the cycle-free reference :mod:`verif.models.noc`.
"""

import collections
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hdl.link.noc import VC_RESPONSE, MeshConfig, flit_layout
from verif.models.noc import Packet, check_delivery, expected_delivery

from ..params import params_from_env, soak_factor
from ..stream import CycleCounter, StreamMonitor, StreamSink, StreamSource

__all__ = ["MeshTB", "HandshakeLog", "config_from_env", "params_from_env",
           "soak_factor"]




def config_from_env():
    """Return the :class:`MeshConfig` the runner passed in ``BRGPU_PARAMS``."""
    params = params_from_env()
    names = ("k", "l", "vcs", "buffer_depth", "payload_width", "dies", "gateway")
    fields = {name: params[name] for name in names if name in params}
    return MeshConfig(**fields)




def _bit(handle):
    value = handle.value
    return bool(int(value)) if value.is_resolvable else False


class HandshakeLog:
    """Record the cycle of every handshake on a set of streams.

    ``cycles[name]`` lists the cycle numbers (counted by the log itself, from its start) of the
    handshakes of stream ``name`` in order, so the ``i``-th entry belongs to the ``i``-th beat
    the stream's source sent or its sink received.
    """

    def __init__(self, clock, ports, reset=None):
        self.clock = clock
        self.ports = ports  # name -> (valid, ready)
        self.reset = reset
        self.cycle = 0
        self.cycles = {name: [] for name in ports}

    def clear(self):
        """Forget every recorded handshake."""
        for log in self.cycles.values():
            log.clear()

    async def run(self):
        """Watch the streams forever (start with ``cocotb.start_soon``)."""
        items = list(self.ports.items())
        while True:
            await RisingEdge(self.clock)
            self.cycle += 1
            if self.reset is not None and _bit(self.reset):
                continue
            for name, (valid, ready) in items:
                if _bit(valid) and _bit(ready):
                    self.cycles[name].append(self.cycle)


class MeshTB:
    """Testbench of one :class:`hdl.link.noc.Mesh` (or of the node ports of two dies).

    Nodes are numbered globally, ``die * nodes + y * k + x`` (:meth:`MeshConfig.global_node`),
    so the same testbench drives :class:`hdl.link.noc.TwoDieNetwork`, whose ports
    ``inject__g__v`` / ``eject__g__v`` follow that numbering.

    Parameters
    ----------
    dut
        The cocotb handle of the top level.
    config : MeshConfig
        The configuration the design was built with.
    stress : bool
        Random valid gaps on every injection port and random backpressure on every ejection
        port, with probabilities drawn per port from the seed; otherwise no gaps and no
        backpressure.
    """

    def __init__(self, dut, config, *, stress=True):
        self.dut = dut
        self.config = config
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.layout = flit_layout(config)
        clk, rst = dut.clk, dut.rst
        self.counter = CycleCounter(clk)
        self.nodes = config.total_nodes
        self.sources, self.sinks, self.monitors = {}, {}, []
        ports = {}
        choices = []
        for n in range(self.nodes):
            for v in range(config.vcs):
                valid_prob = self.rng.choice([0.2, 0.5, 0.9, 1.0]) if stress else 1.0
                ready_prob = self.rng.choice([0.2, 0.5, 0.9, 1.0]) if stress else 1.0
                choices.append(f"{n}.{v}: {valid_prob:.1f}/{ready_prob:.1f}")
                inject, eject = f"inject__{n}__{v}", f"eject__{n}__{v}"
                self.sources[n, v] = StreamSource(dut, inject, clk, self.layout, rng=self.rng,
                                                  valid_prob=valid_prob, reset=rst)
                self.sinks[n, v] = StreamSink(dut, eject, clk, self.layout, rng=self.rng,
                                             ready_prob=ready_prob, reset=rst)
                for name in (inject, eject):
                    self.monitors.append(StreamMonitor(dut, name, clk, self.layout, reset=rst))
                    ports[name] = (getattr(dut, f"{name}__valid"), getattr(dut, f"{name}__ready"))
        dut._log.info("config %s; node.vc: valid/ready probability %s", config,
                      ", ".join(choices))
        self.log = HandshakeLog(clk, ports, reset=rst)
        self.queued = collections.defaultdict(list)  # (src, vc) -> packets queued, in order
        self.sequence = collections.Counter()  # (src, dest, vc) -> packets queued
        self.created = collections.defaultdict(list)  # (src, vc) -> creation cycles
        self._sent_before_reset = collections.Counter()
        #: Extra cycles :meth:`drain` waits for stray packets after the last expected one.
        self.settle_cycles = 0

    async def start(self):
        """Start the clock and every driver and monitor, then reset the design."""
        Clock(self.dut.clk, 10, unit="ns").start()
        cocotb.start_soon(self.counter.run())
        cocotb.start_soon(self.log.run())
        for source in self.sources.values():
            cocotb.start_soon(source.run(self.counter))
        for sink in self.sinks.values():
            cocotb.start_soon(sink.run(self.counter))
        for monitor in self.monitors:
            cocotb.start_soon(monitor.run(self.counter))
        await self.reset()

    async def reset(self, cycles=3):
        """Hold reset for ``cycles`` cycles, dropping everything queued and expected."""
        self.dut.rst.value = 1
        for source in self.sources.values():
            source.clear()
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        for sink in self.sinks.values():
            sink.received.clear()
        self.log.clear()
        self.queued.clear()
        self.sequence.clear()
        self.created.clear()
        for key, source in self.sources.items():
            self._sent_before_reset[key] = source.sent
        await RisingEdge(self.dut.clk)

    # Traffic ------------------------------------------------------------------------------
    def send(self, src, dest, vc, *, created=None):
        """Queue one packet from node ``src`` to node ``dest`` on VC ``vc``.

        The payload is the packet's number within its (source, destination, VC) flow plus a
        per-flow offset, modulo the payload width, so a reordered or repeated packet shows.
        """
        cfg = self.config
        key = (src, dest, vc)
        offset = (src * 131 + dest * 31 + vc * 7) * 0x9E37
        payload = (self.sequence[key] + offset) % (1 << cfg.payload_width)
        self.sequence[key] += 1
        dx, dy, ddie = cfg.global_position(dest)
        # src and vc are filled in by the network: send garbage to prove it.
        beat = {"dest": {"x": dx, "y": dy},
                "src": {"x": self.rng.randrange(1 << cfg.x_width),
                        "y": self.rng.randrange(1 << cfg.y_width)},
                "vc": self.rng.randrange(1 << cfg.vc_width), "payload": payload}
        if cfg.die_width:
            beat["dest"]["die"] = ddie
            beat["src"]["die"] = self.rng.randrange(2)
        self.sources[src, vc].send(beat)
        self.queued[src, vc].append(Packet(src, dest, vc, payload))
        self.created[src, vc].append(created)

    @property
    def sent(self):
        """Packets accepted by the injection ports so far."""
        return sum(self.sent_on(n, v) for n, v in self.sources)

    def sent_on(self, node, vc):
        """Packets the injection port of ``node`` and ``vc`` accepted since the last reset."""
        return self.sources[node, vc].sent - self._sent_before_reset[node, vc]

    @property
    def received(self):
        """Packets accepted from the ejection ports so far."""
        return sum(len(sink.received) for sink in self.sinks.values())

    def accepted_packets(self):
        """Return the packets the injection ports have accepted, per (source, VC) in order."""
        return [packet for (src, vc), packets in self.queued.items()
                for packet in packets[:self.sent_on(src, vc)]]

    def node_of(self, coordinate):
        """Return the global node number of a decoded ``src`` or ``dest`` field."""
        return self.config.global_node(coordinate["x"], coordinate["y"],
                                       coordinate.get("die", 0))

    def delivered(self):
        """Return ``{(dest, vc): [Packet, ...]}``: what every ejection port delivered."""
        out = {}
        for (n, v), sink in self.sinks.items():
            out[n, v] = [Packet(self.node_of(b["src"]), self.node_of(b["dest"]), b["vc"],
                                b["payload"])
                         for b in sink.received]
        return out

    async def drain(self, timeout_cycles):
        """Wait until every queued packet is sent and delivered, then check the delivery.

        Returns the number of packets checked against :func:`verif.models.noc.check_delivery`.
        """
        deadline = self.counter.cycle + timeout_cycles
        while True:
            queued = sum(len(q) for q in self.queued.values())
            if self.sent == queued and self.received >= queued:
                break
            if self.counter.cycle > deadline:
                raise AssertionError(
                    f"timeout at cycle {self.counter.cycle}: {self.sent} of {queued} packets "
                    f"injected, {self.received} delivered")
            await ClockCycles(self.dut.clk, 8)
        await ClockCycles(self.dut.clk, 4 * (self.config.k + self.config.l) + 8
                          + self.settle_cycles)
        checked = check_delivery(expected_delivery(self.accepted_packets()), self.delivered())
        self.check_monitors()
        return checked

    async def wait_until_full(self, still_cycles):
        """Wait until no injection port has accepted a packet for ``still_cycles`` cycles."""
        last, still = -1, 0
        while still < still_cycles:
            await ClockCycles(self.dut.clk, 4)
            still = still + 4 if self.sent == last else 0
            last = self.sent

    async def drain_responses_first(self, queued, response_budget, budget):
        """The drain phases of a fill-and-drain deadlock test.

        With every ejection port paused and ``queued`` packets queued, half of them responses:
        release only the response ports and require every response to arrive within
        ``response_budget`` cycles while the request ports stay blocked (the classes share no
        buffer), then release the request ports and check the whole delivery (:meth:`drain`
        with ``budget``). Returns the number of packets checked.
        """
        for (_, vc), sink in self.sinks.items():
            sink.paused = vc != VC_RESPONSE
        responses = queued // 2
        deadline = self.counter.cycle + response_budget
        while sum(len(s.received) for (_, v), s in self.sinks.items() if v == VC_RESPONSE) \
                < responses:
            assert self.counter.cycle < deadline, "responses are stuck behind requests"
            await ClockCycles(self.dut.clk, 8)
        assert all(not s.received for (_, v), s in self.sinks.items() if v != VC_RESPONSE)
        for sink in self.sinks.values():
            sink.paused = False
        return await self.drain(budget)

    def check_monitors(self):
        """Fail if a monitor saw a stream-rule violation."""
        for monitor in self.monitors:
            assert not monitor.errors, monitor.errors

    def latencies(self):
        """Return ``[(packet, created, inject, eject)]`` for every delivered packet.

        ``created`` is the :attr:`HandshakeLog.cycle` the packet was queued at (``None`` if
        not given), ``inject`` and ``eject`` the cycles of its two handshakes.

        The ``i``-th packet a source sent from ``src`` to ``dest`` on VC ``v`` is the ``i``-th
        one from ``src`` that ``dest`` delivered on ``v``.
        """
        injected = collections.defaultdict(collections.deque)
        for (src, vc), packets in self.queued.items():
            cycles = self.log.cycles[f"inject__{src}__{vc}"]
            for packet, created, cycle in zip(packets, self.created[src, vc], cycles,
                                              strict=False):
                injected[src, packet.dest, vc].append((packet, created, cycle))
        out = []
        for (n, v), sink in self.sinks.items():
            cycles = self.log.cycles[f"eject__{n}__{v}"]
            for beat, cycle in zip(sink.received, cycles, strict=False):
                src = self.node_of(beat["src"])
                packet, created, inject_cycle = injected[src, n, v].popleft()
                out.append((packet, created, inject_cycle, cycle))
        return out
