"""cocotb testbench of two die-to-die link ends talking across the wire-channel model."""

import collections
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hdl.link.d2d import NUM_VCS, D2DConfig, status_layout
from hdl.link.d2d.flit import LinkState, vc_payload_layout

from ..params import params_from_env, soak_factor
from ..payload import decode
from ..scoreboard import Scoreboard
from ..stream import CycleCounter, StreamMonitor, StreamSink, StreamSource
from .channel import FlitMonitor, WireChannel

__all__ = ["LinkTB", "check_status", "config_from_env", "params_from_env", "soak_factor"]

ENDS = ("a", "b")
VC_NAMES = ("req", "rsp")




def config_from_env():
    """Return the :class:`D2DConfig` the design was built with (fields in ``BRGPU_PARAMS``)."""
    params = params_from_env()
    names = D2DConfig.__dataclass_fields__
    return D2DConfig(**{k: v for k, v in params.items() if k in names})





def check_status(status, rx_credits, where, cycle):
    """Fail unless a link end's decoded ``status`` keeps its invariants.

    Credits of every VC within ``[0, rx_credits]`` (the status field is unsigned, so a
    negative count shows as a large one) and no receive buffer overflow. ``where`` names the
    end in the message.
    """
    for vc in range(NUM_VCS):
        assert status["credits"][vc] <= rx_credits, (
            f"{where} vc {vc}: {status['credits'][vc]} credits at cycle {cycle} "
            f"(negative or above {rx_credits})")
    assert not status["rx_overflow"], f"{where}: receive buffer overflow at cycle {cycle}"

class LinkTB:
    """Testbench of :class:`verif.link.harness.LinkPair`.

    Messages offered to end ``a`` must come out of end ``b`` on the same VC, each exactly
    once, in order and intact, and the other way round; the scoreboards check every payload.

    Parameters
    ----------
    dut
        cocotb handle of the top level.
    config : D2DConfig
        The configuration of both ends.
    stress : bool
        Random valid gaps on the four input streams and random ready backpressure on the four
        output streams, probabilities drawn from the seed and logged.
    latency : int
        Extra cycles on the wires.
    """

    def __init__(self, dut, config, *, stress=True, latency=1):
        self.dut = dut
        self.config = config
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.np_rng = np.random.default_rng(cocotb.RANDOM_SEED)
        clk, rst = dut.clk, dut.rst
        self.counter = CycleCounter(clk)
        layout = vc_payload_layout(config.payload_bytes)
        self.layout = layout
        self.sources, self.sinks, self.monitors = {}, {}, []
        probs = {}
        for end in ENDS:
            for vc, vc_name in enumerate(VC_NAMES):
                valid_prob = self.rng.choice([0.3, 0.7, 1.0]) if stress else 1.0
                ready_prob = self.rng.choice([0.15, 0.5, 0.9, 1.0]) if stress else 1.0
                probs[f"{end}.{vc_name}"] = (valid_prob, ready_prob)
                tx, rx = f"{end}__tx_{vc_name}", f"{end}__rx_{vc_name}"
                self.sources[end, vc] = StreamSource(dut, tx, clk, layout, rng=self.rng,
                                                     valid_prob=valid_prob, reset=rst)
                self.sinks[end, vc] = StreamSink(dut, rx, clk, layout, rng=self.rng,
                                                 ready_prob=ready_prob, reset=rst)
                self.monitors += [StreamMonitor(dut, tx, clk, layout, reset=rst),
                                  StreamMonitor(dut, rx, clk, layout, reset=rst)]
        dut._log.info("config %s; (valid, ready) probabilities %s", config, probs)
        ch_a, ch_b = self.np_rng.spawn(2)
        self.channels = {
            "a": WireChannel(dut.a__lane_tx, dut.b__lane_rx, clk, config, rng=ch_a,
                             latency=latency),
            "b": WireChannel(dut.b__lane_tx, dut.a__lane_rx, clk, config, rng=ch_b,
                             latency=latency),
        }
        self.flit_monitors = {end: FlitMonitor(getattr(dut, f"{end}__lane_tx"), clk, rst, config)
                              for end in ENDS}
        self.status_layout = status_layout()
        self.status_history = []
        self.delivered = collections.Counter()
        #: Per end: ``(cycle, credits per VC)`` each time the end enters ACTIVE, sampled in the
        #: first cycle it reports ACTIVE (before any flit admitted in ACTIVE can count).
        self.activations = {end: [] for end in ENDS}
        self._new_scoreboards()

    def _new_scoreboards(self):
        self.scoreboards = {end: Scoreboard(f"messages sent by {end}") for end in ENDS}

    @staticmethod
    def far(end):
        """Return the other end."""
        return "b" if end == "a" else "a"

    async def start(self):
        """Start the clock, drivers, monitors and channels, then reset the design."""
        Clock(self.dut.clk, 10, unit="ns").start()
        cocotb.start_soon(self.counter.run())
        for driver in (*self.sources.values(), *self.sinks.values()):
            cocotb.start_soon(driver.run(self.counter))
        for monitor in self.monitors:
            cocotb.start_soon(monitor.run(self.counter))
        for channel in self.channels.values():
            cocotb.start_soon(channel.run())
        for monitor in self.flit_monitors.values():
            cocotb.start_soon(monitor.run())
        cocotb.start_soon(self._check_status())
        cocotb.start_soon(self._collect())
        await self.reset()

    async def reset(self, cycles=3):
        """Reset both ends, dropping queued messages and expectations."""
        self.dut.rst.value = 1
        for source in self.sources.values():
            source.clear()
        await ClockCycles(self.dut.clk, cycles)
        for sink in self.sinks.values():
            sink.received.clear()
        for monitor in self.flit_monitors.values():
            monitor.clear()
        self._new_scoreboards()
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def status(self, end):
        """Return the decoded ``status`` port of ``end``."""
        value = getattr(self.dut, f"{end}__status").value
        return decode(self.status_layout, value.to_unsigned())

    async def _check_status(self):
        """Every cycle: credits within ``[0, rx_credits]``, no receive buffer overflow.

        Also records the credits of every entry into ACTIVE (:attr:`activations`).
        """
        limit = self.config.rx_credits
        previous = {end: None for end in ENDS}
        while True:
            await RisingEdge(self.dut.clk)
            if self.dut.rst.value:
                previous = {end: None for end in ENDS}
                continue
            for end in ENDS:
                status = self.status(end)
                if status["state"] == LinkState.ACTIVE and previous[end] != LinkState.ACTIVE:
                    self.activations[end].append((self.counter.cycle, list(status["credits"])))
                previous[end] = status["state"]
                check_status(status, limit, f"end {end}", self.counter.cycle)

    async def _collect(self):
        while True:
            await RisingEdge(self.dut.clk)
            for (end, vc), sink in self.sinks.items():
                while sink.received:
                    beat = sink.received.popleft()
                    self.scoreboards[self.far(end)].check(
                        bytes(beat["data"]), key=vc,
                        where=f"(delivered by {end} on vc {vc}, cycle {self.counter.cycle})")
                    self.delivered[end, vc] += 1

    def send(self, end, vc, payload):
        """Offer ``payload`` to ``end`` on ``vc``; the far end must deliver it."""
        payload = bytes(payload)
        self.sources[end, vc].send({"data": list(payload)})
        self.scoreboards[end].expect(payload, key=vc)
        self.flit_monitors[end].expect(vc, payload)

    def send_random(self, count, ends=ENDS):
        """Offer ``count`` random messages on random VCs at each of ``ends``."""
        for end in ends:
            for _ in range(count):
                vc = int(self.np_rng.integers(NUM_VCS))
                self.send(end, vc, self.np_rng.bytes(self.config.payload_bytes))

    @property
    def outstanding(self):
        """Messages offered but not yet delivered, both directions."""
        return sum(board.outstanding for board in self.scoreboards.values())

    async def wait_state(self, state, timeout_cycles, ends=ENDS):
        """Wait until every end in ``ends`` is in ``state``."""
        deadline = self.counter.cycle + timeout_cycles
        while any(self.status(end)["state"] != state for end in ends):
            if self.counter.cycle > deadline:
                raise AssertionError(
                    f"timeout waiting for state {LinkState(state).name}: "
                    f"{ {end: self.status(end) for end in ends} }")
            await RisingEdge(self.dut.clk)

    async def wait_delivered(self, timeout_cycles):
        """Wait until every offered message has been delivered and checked."""
        deadline = self.counter.cycle + timeout_cycles
        while self.outstanding:
            if self.counter.cycle > deadline:
                raise AssertionError(
                    f"timeout at cycle {self.counter.cycle}: {self.outstanding} messages not "
                    f"delivered; status a={self.status('a')} b={self.status('b')}")
            await RisingEdge(self.dut.clk)
        # Nothing more may come out.
        await ClockCycles(self.dut.clk, 4 * self.config.replay_timeout)
        await RisingEdge(self.dut.clk)
        for end in ENDS:
            self.scoreboards[end].finish()
        self.check_monitors()

    def check_monitors(self):
        """Fail if a stream or flit monitor recorded an error."""
        for monitor in self.monitors:
            assert not monitor.errors, monitor.errors
        for monitor in self.flit_monitors.values():
            assert not monitor.errors, monitor.errors
