"""cocotb testbench of the HBM pseudo-channel controller.

:class:`HBMTB` owns the clock, the reset, a :class:`~verif.stream.StreamSource` on ``req``, a
:class:`~verif.stream.StreamSink` on ``resp``, a :class:`~verif.stream.StreamMonitor` on both,
the :class:`~verif.hbm.device.HBMDevice` on the PHY (which checks every command against JEDEC
timing), a flat ``numpy`` image of the memory as the golden model, and a per-ID scoreboard of
read responses. It also records, per read, the cycles from the request handshake to the
response handshake, and the data-bus busy cycles of the device model at chosen points.
"""

import collections
import dataclasses
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hdl.hbm.config import HBMControllerConfig, controller_config
from hdl.hbm.frontend import MemOp, request_layout, response_layout
from hdl.hbm.stack import HBMStackConfig
from hdl.hbm.timing import HBM2_DRAMSIM3, HBM2E_3200, HBMGeometry

from ..params import params_from_env, soak_factor
from ..scoreboard import Scoreboard
from ..stream import CycleCounter, StreamMonitor, StreamSink, StreamSource
from .device import HBMDevice

__all__ = ["HBMTB", "DESIGNS", "DEVICE_TIMING", "STACK_DESIGNS", "design_config",
           "device_timing", "stack_design",
           "params_from_env", "soak_factor", "address_of"]

# Refresh every 1000 cycles instead of 3900 so that short tests cross many intervals.
_FAST_REFRESH = dataclasses.replace(HBM2_DRAMSIM3, name="HBM2_DRAMsim3_fast_refresh",
                                    tREFI=1000, tRFC=100, tRFCpb=60, tREFIpb=60)

# Row and column timings of 1-2 cycles (CL and CWL as HBM2): the controller's paths for
# timings too short for its one-cycle shortcuts (``tRAS`` / ``tRP`` below 3, loads of under
# 3 cycles; see ``hdl.hbm.controller``) run only with timings like these.
_SHORT = dataclasses.replace(_FAST_REFRESH, name="short_row_timing", tRCD=2, tRP=2, tRAS=2,
                             tRC=4, tCCD_L=2, tRRD_S=1, tRRD_L=2, tFAW=4, tWR=1, tWTR_S=1,
                             tWTR_L=2, tRTP_S=1, tRTP_L=2)

#: Controller configurations the tests and benchmarks build, by name.
DESIGNS = {
    # Small array (64 rows) so that random traffic conflicts, 8 queue entries, a short
    # starvation cap and at most 2 postponed refreshes: every mechanism is exercised.
    "small": HBMControllerConfig(timing=_FAST_REFRESH, geometry=HBMGeometry(rows=64),
                                 queue_depth=8, starvation_cap=64, refresh_postpone=2,
                                 id_width=6),
    # As ``small`` with the short timings above, and 6 queue entries (12 line buffers: a
    # queue depth that is not a power of two).
    "small-short": HBMControllerConfig(timing=_SHORT, geometry=HBMGeometry(rows=64),
                                       queue_depth=6, starvation_cap=64, refresh_postpone=2,
                                       id_width=6),
    # The ``fpga`` configuration's controller (64 KiB pseudo-channel, on-chip memory model).
    "fpga": controller_config("fpga"),
    # The same with 4 queue entries: faster on the ECP5-85F than the 8-entry preset, but it
    # moves less data per cycle (``brgpu bench hbm``; docs/hbm.md, "FPGA").
    "fpga-q4": dataclasses.replace(controller_config("fpga"), queue_depth=4, write_high=3,
                                   write_low=1),
    "small-fcfs-closed": HBMControllerConfig(
        timing=_FAST_REFRESH, geometry=HBMGeometry(rows=64), queue_depth=8,
        scheduler="fcfs", page_policy="closed", refresh_postpone=2, id_width=6),
    # As ``small`` with per-bank refresh (a REFPB every 60 cycles, at most 2 owed) and
    # auto-precharge.
    "small-pb": HBMControllerConfig(timing=_FAST_REFRESH, geometry=HBMGeometry(rows=64),
                                    queue_depth=8, starvation_cap=64, refresh_postpone=2,
                                    id_width=6, refresh="per_bank", auto_precharge=True),
    # Benchmarks: all-bank refresh paid every tREFI (no postponement), so that any window
    # longer than tREFI holds refreshes at their steady rate; auto-precharge on.
    "bench-hbm2": HBMControllerConfig(timing=HBM2_DRAMSIM3, queue_depth=32,
                                      write_high=28, write_low=4, refresh_postpone=1,
                                      auto_precharge=True),
    "bench-hbm2-pb": HBMControllerConfig(timing=HBM2_DRAMSIM3, queue_depth=32,
                                         write_high=28, write_low=4, refresh="per_bank",
                                         auto_precharge=True),
    "bench-hbm2-fcfs": HBMControllerConfig(timing=HBM2_DRAMSIM3, queue_depth=32,
                                           scheduler="fcfs", refresh_postpone=1),
    "bench-hbm2e": HBMControllerConfig(timing=HBM2E_3200, queue_depth=32,
                                       write_high=28, write_low=4, refresh_postpone=1,
                                       auto_precharge=True),
    "bench-hbm2e-pb": HBMControllerConfig(timing=HBM2E_3200, queue_depth=32,
                                          write_high=28, write_low=4, refresh="per_bank",
                                          auto_precharge=True),
}


#: Designs whose controller is built with a wrong timing on purpose, and the true timing the
#: device model checks them against (negative tests: the model must catch the controller).
DEVICE_TIMING = {
    # tRCD 10 in the controller, 14 in the device: the first RD after an ACT is too early.
    "small-bad-trcd": _FAST_REFRESH,
}
DESIGNS["small-bad-trcd"] = dataclasses.replace(
    DESIGNS["small"], timing=dataclasses.replace(_FAST_REFRESH, name="bad_tRCD", tRCD=10))


def device_timing(name):
    """Return the timing the device model of design ``name`` checks against."""
    return DEVICE_TIMING.get(name, design_config(name).timing)


#: Stack configurations the stack tests build, by name: 2 pseudo-channels of
#: ``small-fcfs-closed`` (the only test of that controller configuration, to keep the number
#: of distinct builds down), a device model on each.
STACK_DESIGNS = {
    "stack2": HBMStackConfig(channel=DESIGNS["small-fcfs-closed"], channels=2),
}


def stack_design(name):
    """Return the stack configuration called ``name`` in :data:`STACK_DESIGNS`."""
    try:
        return STACK_DESIGNS[name]
    except KeyError:
        raise ValueError(f"design must be one of {', '.join(STACK_DESIGNS)}, "
                         f"not {name!r}") from None


def design_config(name):
    """Return the controller configuration called ``name`` in :data:`DESIGNS`."""
    try:
        return DESIGNS[name]
    except KeyError:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}, not {name!r}") from None






def address_of(config, bank, row, line):
    """Return the byte address of line ``line`` of ``row`` in ``bank`` (the inverse map)."""
    geo = config.geometry
    value = {"bank_group": bank // geo.banks_per_group, "bank": bank % geo.banks_per_group,
             "column": line, "row": row}
    widths, offsets = config.field_widths(), config.field_offsets()
    addr = 0
    for name, field in value.items():
        if not 0 <= field < 1 << widths[name]:
            raise ValueError(f"{name} {field} does not fit in {widths[name]} bits")
        addr |= field << offsets[name]
    return addr


class HBMTB:
    """Testbench of one :class:`hdl.hbm.controller.HBMPseudoChannel`.

    Parameters
    ----------
    dut
        The cocotb handle of the top level.
    config : HBMControllerConfig
        The configuration the design was built with.
    stress : bool
        Random valid gaps on ``req`` and random backpressure on ``resp``, probabilities drawn
        from the seed; otherwise both are always ready.
    device : bool
        Put the JEDEC-checking device model on the PHY ports (otherwise the design has its
        own memory behind the PHY, e.g. the on-chip model).
    timing : HBMTiming, optional
        The timing the device model checks; the controller's own if omitted.
    raise_violations : bool
        Passed to :class:`~verif.hbm.device.HBMDevice`.
    stack : HBMStackConfig, optional
        Test an :class:`~hdl.hbm.stack.HBMStack` of ``config`` controllers instead: the
        image covers the whole stack, and with ``memory="phy"`` a device model sits on every
        ``phy<c>`` port group.
    """

    def __init__(self, dut, config, *, stress=True, device=True, timing=None,
                 raise_violations=True, stack=None):
        self.dut = dut
        self.config = config
        self.stack = stack
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.np_rng = np.random.default_rng(cocotb.RANDOM_SEED)
        self.req_layout = request_layout(addr_width=(stack or config).addr_width,
                                         id_width=config.id_width,
                                         line_bytes=config.line_bytes)
        self.resp_layout = response_layout(id_width=config.id_width,
                                           line_bytes=config.line_bytes)
        if stress:
            req_prob = self.rng.choice([0.3, 0.7, 1.0])
            resp_prob = self.rng.choice([0.2, 0.5, 0.9])
        else:
            req_prob = resp_prob = 1.0
        dut._log.info("config %s; req valid probability %.2f, resp ready probability %.2f",
                      config, req_prob, resp_prob)
        clk, rst = dut.clk, dut.rst
        self.counter = CycleCounter(clk)
        self.req = StreamSource(dut, "req", clk, self.req_layout, rng=self.rng,
                                valid_prob=req_prob, reset=rst)
        self.resp = StreamSink(dut, "resp", clk, self.resp_layout, rng=self.rng,
                               ready_prob=resp_prob, reset=rst)
        self.monitors = [StreamMonitor(dut, "req", clk, self.req_layout, reset=rst),
                         StreamMonitor(dut, "resp", clk, self.resp_layout, reset=rst)]
        if stack is not None:
            self.capacity = stack.channels * config.geometry.capacity_bytes
            prefixes = ([f"phy{c}" for c in range(stack.channels)] if stack.memory == "phy"
                        else [])
        else:
            self.capacity = config.geometry.capacity_bytes
            prefixes = ["phy"] if device else []
        self.devices = [HBMDevice(dut, clk, rst, timing or config.timing, config.geometry,
                                  prefix=prefix, raise_violations=raise_violations)
                        for prefix in prefixes]
        self.device = self.devices[0] if len(self.devices) == 1 and stack is None else None
        self._clear()

    def _clear(self):
        self.image = np.zeros(self.capacity, dtype=np.uint8)
        self.scoreboard = Scoreboard("HBM read responses")
        self.free_ids = collections.deque(range(1 << self.config.id_width))
        self.sent = 0
        self.accepted = 0
        self.responses = 0
        self.read_start = {}
        self.latencies = []
        self.marks = {}

    async def start(self):
        """Start the clock and every driver, then reset the design."""
        Clock(self.dut.clk, 10, unit="ns").start()
        cocotb.start_soon(self.counter.run())
        cocotb.start_soon(self.req.run(self.counter))
        cocotb.start_soon(self.resp.run(self.counter))
        for monitor in self.monitors:
            cocotb.start_soon(monitor.run(self.counter))
        for device in self.devices:
            cocotb.start_soon(device.run())
        cocotb.start_soon(self._watch())
        await self.reset()

    async def reset(self, cycles=3):
        """Hold reset for ``cycles`` cycles; the memory and all expectations start afresh."""
        self.dut.rst.value = 1
        self.req.clear()
        await ClockCycles(self.dut.clk, cycles)
        self.resp.received.clear()
        self._clear()
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def _watch(self):
        """Check responses, free their IDs and time every read, cycle by cycle."""
        dut = self.dut
        while True:
            await RisingEdge(dut.clk)
            if int(dut.rst.value):
                continue
            if int(dut.req__valid.value) and int(dut.req__ready.value):
                self.accepted += 1
                word = dut.req__payload.value.to_unsigned()
                payload = _decode_fields(self.req_layout, word, ("op", "id"))
                if payload["op"] == MemOp.READ.value:
                    self.read_start[payload["id"]] = self.counter.cycle
                for name, (count, _cycle, _busy) in list(self.marks.items()):
                    if count == self.accepted:
                        busy = (sum(d.model.data_bus_busy_cycles for d in self.devices)
                                if self.devices else None)
                        self.marks[name] = (count, self.counter.cycle, busy)
            if int(dut.resp__valid.value) and int(dut.resp__ready.value):
                word = dut.resp__payload.value.to_unsigned()
                ident = _decode_fields(self.resp_layout, word, ("id",))["id"]
                start = self.read_start.pop(ident, None)
                if start is None:
                    raise AssertionError(f"cycle {self.counter.cycle}: response for id "
                                         f"{ident}, which has no read outstanding")
                self.latencies.append(self.counter.cycle - start)
            while self.resp.received:
                beat = self.resp.received.popleft()
                self.scoreboard.check(beat, key=beat["id"],
                                      where=f"(cycle {self.counter.cycle})")
                self.responses += 1
                self.free_ids.append(beat["id"])

    def mark(self, name, accepted):
        """Record the cycle and data-bus busy count when the ``accepted``-th request is in."""
        self.marks[name] = (accepted, None, None)

    async def send(self, op, addr, data=None, mask=None):
        """Queue one request, waiting for a free read ID and a short source queue."""
        cfg = self.config
        line = cfg.line_bytes
        addr = addr & ~(line - 1)
        while len(self.req.queue) >= 4 or (op is MemOp.READ and not self.free_ids):
            await RisingEdge(self.dut.clk)
        if op is MemOp.READ:
            ident = self.free_ids.popleft()
            expected = int.from_bytes(self.image[addr:addr + line].tobytes(), "little")
            self.scoreboard.expect({"data": expected, "id": ident}, key=ident)
            payload = {"op": op.value, "addr": addr, "id": ident, "data": 0, "mask": 0}
        else:
            if data is None:
                data = self.np_rng.integers(0, 256, line, dtype=np.uint8)
            if mask is None:
                mask = (1 << line) - 1
            enables = np.array([(mask >> i) & 1 for i in range(line)], dtype=bool)
            target = self.image[addr:addr + line]
            target[enables] = data[enables]
            payload = {"op": op.value, "addr": addr, "id": self.sent % (1 << cfg.id_width),
                       "data": int.from_bytes(data.tobytes(), "little"), "mask": mask}
        self.req.send(payload)
        self.sent += 1

    async def run(self, requests):
        """Send ``(op, addr)`` or ``(op, addr, data, mask)`` requests, in order."""
        for item in requests:
            await self.send(*item)

    async def drain(self, timeout_cycles):
        """Wait until every request is in and every read answered, then check the ends."""
        deadline = self.counter.cycle + timeout_cycles
        bursts = self.sent * self.config.bursts_per_line

        def issued():
            if not self.devices:
                return bursts
            return sum(d.model.reads + d.model.writes for d in self.devices)

        while not self.req.idle or self.scoreboard.outstanding or issued() < bursts:
            if self.counter.cycle > deadline:
                raise AssertionError(
                    f"timeout at cycle {self.counter.cycle}: {self.accepted} of {self.sent} "
                    f"requests accepted, {self.scoreboard.outstanding} reads unanswered, "
                    f"{issued()} of {bursts} bursts issued")
            await RisingEdge(self.dut.clk)
        await ClockCycles(self.dut.clk, 4 * self.config.timing.read_latency)
        assert not self.resp.received, f"extra responses: {list(self.resp.received)[:2]}"
        assert not self.read_start, f"reads never answered: {self.read_start}"
        self.scoreboard.finish()
        assert self.accepted == self.sent, (self.accepted, self.sent)
        assert issued() == bursts, (f"{issued()} RD + WR issued for {self.sent} requests of "
                                    f"{self.config.bursts_per_line} bursts")
        for monitor in self.monitors:
            assert not monitor.errors, monitor.errors

    def check_image(self):
        """Compare the device model's array with the golden image, line by line."""
        cfg = self.config
        geo = cfg.geometry
        lines = geo.capacity_bytes // cfg.line_bytes
        for channel, device in enumerate(self.devices):
            model = device.model
            for index in range(lines):
                local = index * cfg.line_bytes
                addr = local if self.stack is None else self.stack.join(channel, local)
                bank, row, col = cfg.decode(local)
                got = b"".join(model.peek(bank, row, col + k).tobytes()
                               for k in range(cfg.bursts_per_line))
                want = self.image[addr:addr + cfg.line_bytes].tobytes()
                assert got == want, (f"line at {addr:#x} (channel {channel} bank {bank} row "
                                     f"{row} col {col}) differs")


def _decode_fields(layout, word, names):
    result = {}
    for name, field in layout:
        if name in names:
            width = field.width
            result[name] = (word >> field.offset) & ((1 << width) - 1)
    return result
