"""cocotb testbench of the cache slice: clock, reset, five streams, memory model, scoreboard."""

import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hdl.cache import (
    CacheConfig,
    CacheOp,
    core_request_layout,
    core_response_layout,
    counters_layout,
    mem_request_layout,
    mem_response_layout,
)
from verif.models.cache import CacheModel, CacheModelConfig, Op

from ..params import params_from_env, soak_factor
from ..payload import decode
from ..scoreboard import Scoreboard
from ..stream import CycleCounter, StreamMonitor, StreamSink, StreamSource
from .memory import LineMemory

__all__ = ["CacheTB", "config_from_env", "model_config", "soak_factor", "params_from_env"]

_CONFIG_FIELDS = ("capacity", "ways", "line_bytes", "data_bytes", "mshrs", "mshr_targets",
                  "policy", "seed", "addr_width", "id_width", "banks")

_MODEL_OP = {CacheOp.READ: Op.READ, CacheOp.WRITE: Op.WRITE,
             CacheOp.FLUSH_LINE: Op.FLUSH_LINE, CacheOp.INVALIDATE_LINE: Op.INVALIDATE_LINE,
             CacheOp.FLUSH_ALL: Op.FLUSH_ALL, CacheOp.INVALIDATE_ALL: Op.INVALIDATE_ALL}




def config_from_env():
    """Return the :class:`CacheConfig` the runner passed in ``BRGPU_PARAMS``."""
    params = params_from_env()
    return CacheConfig(**{k: params[k] for k in _CONFIG_FIELDS if k in params})


def model_config(config):
    """Return the golden model's configuration of the slice ``config``."""
    return CacheModelConfig(capacity=config.capacity, ways=config.ways,
                            line_bytes=config.line_bytes, policy=config.policy,
                            seed=config.seed, addr_width=config.addr_width)




class CacheTB:
    """Testbench of one :class:`hdl.cache.CacheSlice`.

    The golden model sees every request in the order the TB queues it, which is the order the
    slice accepts it (one source), and predicts each response (``id``, ``data``, ``hit``);
    responses are checked per ID, in order, so the slice may interleave IDs. A response flagged
    ``merged`` must be a hit of the model. IDs count up and wrap at ``2**id_width``: the tests
    keep far fewer requests in flight than that.

    Parameters
    ----------
    dut
        The cocotb handle of the top level.
    config : CacheConfig
        The configuration the design was built with.
    stress : bool
        Random valid gaps on ``req`` and ``mem_resp``, random ready backpressure on ``resp``,
        ``mem_read`` and ``mem_write``; probabilities drawn from the seed and logged.
    mem_bytes : int, optional
        Size of the memory image (default ``8 * capacity``, at least 16 lines per set).
    latency : tuple of int, optional
        Memory read latency range (default ``(1, 24)`` with stress, ``(1, 1)`` without).
    """

    def __init__(self, dut, config, *, stress=True, mem_bytes=None, latency=None):
        self.dut = dut
        self.config = config
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.np_rng = np.random.default_rng(cocotb.RANDOM_SEED)
        req_layout = core_request_layout(config)
        resp_layout = core_response_layout(config)
        mreq = mem_request_layout(addr_width=config.addr_width, line_bytes=config.line_bytes,
                                  id_width=config.mem_id_width)
        mresp = mem_response_layout(line_bytes=config.line_bytes, id_width=config.mem_id_width)
        self.counters_layout = counters_layout()
        if stress:
            probs = {name: self.rng.choice([0.25, 0.6, 0.9, 1.0])
                     for name in ("req", "resp", "mem_read", "mem_write", "mem_resp")}
            latency = latency or (1, 24)
        else:
            probs = dict.fromkeys(("req", "resp", "mem_read", "mem_write", "mem_resp"), 1.0)
            latency = latency or (1, 1)
        dut._log.info("config %s; stream probabilities %s; memory latency %s",
                      config, probs, latency)
        clk, rst = dut.clk, dut.rst
        self.counter = CycleCounter(clk)
        self.req = StreamSource(dut, "req", clk, req_layout, rng=self.rng,
                                valid_prob=probs["req"], reset=rst)
        self.resp = StreamSink(dut, "resp", clk, resp_layout, rng=self.rng,
                               ready_prob=probs["resp"], reset=rst)
        self.mem_read = StreamSink(dut, "mem_read", clk, mreq, rng=self.rng,
                                   ready_prob=probs["mem_read"], reset=rst)
        self.mem_write = StreamSink(dut, "mem_write", clk, mreq, rng=self.rng,
                                    ready_prob=probs["mem_write"], reset=rst)
        self.mem_resp = StreamSource(dut, "mem_resp", clk, mresp, rng=self.rng,
                                     valid_prob=probs["mem_resp"], reset=rst)
        self.monitors = [StreamMonitor(dut, name, clk, layout, reset=rst) for name, layout in
                         (("req", req_layout), ("resp", resp_layout), ("mem_read", mreq),
                          ("mem_write", mreq), ("mem_resp", mresp))]
        mem_bytes = mem_bytes or max(8 * config.capacity,
                                     16 * config.sets * config.line_bytes)
        self.image = self.np_rng.integers(0, 256, mem_bytes, dtype=np.uint8)
        self.memory = LineMemory(self.image, config.line_bytes, read_sink=self.mem_read,
                                 write_sink=self.mem_write, resp_source=self.mem_resp,
                                 counter=self.counter, rng=self.rng, min_latency=latency[0],
                                 max_latency=latency[1])
        self._new_model()

    def _new_model(self):
        """Start a fresh model over a copy of the memory image (after reset)."""
        self.model = CacheModel(model_config(self.config), self.image.copy())
        self.scoreboard = Scoreboard("cache responses")
        self.next_id = 0
        self.issued = 0
        self.model_hits = []  # per request: True/False for READ/WRITE, None otherwise
        self.merged_seen = 0
        self.order = []       # IDs in the order their responses arrived

    async def start(self):
        """Start the clock and every driver, then reset the design."""
        Clock(self.dut.clk, 10, unit="ns").start()
        cocotb.start_soon(self.counter.run())
        cocotb.start_soon(self.req.run(self.counter))
        cocotb.start_soon(self.resp.run(self.counter))
        cocotb.start_soon(self.mem_read.run(self.counter))
        cocotb.start_soon(self.mem_write.run(self.counter))
        cocotb.start_soon(self.mem_resp.run(self.counter))
        cocotb.start_soon(self.memory.run())
        for monitor in self.monitors:
            cocotb.start_soon(monitor.run(self.counter))
        await self.reset()

    async def reset(self, cycles=3):
        """Reset the design; drop queued requests, reads in flight and expectations.

        The slice loses its contents (dirty lines included), so the model restarts from the
        memory image as the slice left it. Waits for the reset walk of the tag RAM.
        """
        self.dut.rst.value = 1
        self.req.clear()
        await ClockCycles(self.dut.clk, cycles)
        self.memory.clear()
        self.resp.received.clear()
        self.dut.rst.value = 0
        self._new_model()
        await RisingEdge(self.dut.clk)
        await self.wait_ready()

    async def wait_ready(self, timeout=None):
        """Wait until the slice accepts requests (after the reset walk)."""
        timeout = timeout or 4 * self.config.sets + 100
        for _ in range(timeout):
            await RisingEdge(self.dut.clk)
            if self.dut.req__ready.value.is_resolvable and int(self.dut.req__ready.value):
                return
        raise AssertionError(f"req not ready {timeout} cycles after reset")

    # -- requests --------------------------------------------------------------------------

    def word_addr(self, addr):
        """Return ``addr`` aligned down to the data port width."""
        return addr & ~(self.config.data_bytes - 1)

    def issue(self, op, addr=0, data=None, mask=None):
        """Queue one request and the response the model predicts; return the model's Result."""
        cfg = self.config
        op = CacheOp(op)
        addr = self.word_addr(addr)
        req_id = self.next_id
        self.next_id = (self.next_id + 1) % (1 << cfg.id_width)
        kwargs = {}
        word = 0
        if op is CacheOp.READ:
            kwargs["size"] = cfg.data_bytes
            mask = 0
        elif op is CacheOp.WRITE:
            if data is None:
                data = self.np_rng.integers(0, 256, cfg.data_bytes, dtype=np.uint8)
            data = np.asarray(data, dtype=np.uint8)
            if mask is None:
                mask = (1 << cfg.data_bytes) - 1
            kwargs["data"], kwargs["byte_enable"] = data, mask
            word = int.from_bytes(data.tobytes(), "little")
        else:
            mask = 0
        result = self.model.request(_MODEL_OP[op], addr, req_id=req_id, **kwargs)
        self.req.send({"op": op.value, "id": req_id, "addr": addr, "data": word, "mask": mask})
        read = 0 if result.data is None else int.from_bytes(result.data.tobytes(), "little")
        self.scoreboard.expect({"id": req_id, "data": read, "hit": int(bool(result.hit))},
                               key=req_id)
        self.issued += 1
        self.model_hits.append(result.hit)
        return result

    def read(self, addr):
        """Queue a READ of the word at ``addr``."""
        return self.issue(CacheOp.READ, addr)

    def write(self, addr, data=None, mask=None):
        """Queue a WRITE of the word at ``addr``."""
        return self.issue(CacheOp.WRITE, addr, data, mask)

    async def drain(self, timeout=None):
        """Check responses as they arrive until every queued request is answered."""
        timeout = timeout or 2000 + 300 * self.scoreboard.outstanding
        deadline = self.counter.cycle + timeout
        while True:
            while self.resp.received:
                beat = self.resp.received.popleft()
                merged = beat.pop("merged")
                if merged:
                    assert beat["hit"], f"response merged but not a hit: {beat!r}"
                    self.merged_seen += 1
                self.order.append(beat["id"])
                self.scoreboard.check(beat, key=beat["id"],
                                      where=f"(cycle {self.counter.cycle})")
            if not self.scoreboard.outstanding:
                break
            if self.counter.cycle > deadline:
                raise AssertionError(
                    f"timeout at cycle {self.counter.cycle}: {self.scoreboard.outstanding} "
                    f"responses missing; {self.req.sent} requests accepted")
            await RisingEdge(self.dut.clk)
        # Write-backs of evicted lines answer no request: wait until the slice has handed over
        # as many as the model made (a slice that never does fails here).
        for _ in range(500):
            if self.counters()["writebacks"] == self.model.counters["writebacks"]:
                break
            await RisingEdge(self.dut.clk)
        await ClockCycles(self.dut.clk, 4)
        assert not self.resp.received, f"extra responses: {list(self.resp.received)[:3]!r}"
        for monitor in self.monitors:
            assert not monitor.errors, monitor.errors
        assert self.memory.max_in_flight <= self.config.mshrs, (
            f"{self.memory.max_in_flight} line reads in flight with {self.config.mshrs} MSHRs")

    def counters(self):
        """Return the slice's performance counters as a dictionary."""
        return decode(self.counters_layout, self.dut.counters.value.to_unsigned())

    def check_counters(self):
        """Compare the slice's counters with the model's: model hits = hits + merges."""
        actual = self.counters()
        expected = self.model.counters
        folded = dict(actual, hits=actual["hits"] + actual["merges"])
        del folded["merges"]
        assert folded == expected, f"counters: slice {actual}, model {expected}"
        assert actual["merges"] == self.merged_seen, (
            f"merges counter {actual['merges']}, {self.merged_seen} merged responses")
        return actual

    async def check_memory(self):
        """FLUSH_ALL, then compare the memory image with the model's, byte for byte."""
        self.issue(CacheOp.FLUSH_ALL)
        await self.drain(timeout=20 * self.config.lines + 2000)
        model_memory = self.model.memory
        if not np.array_equal(self.image, model_memory):
            diff = np.flatnonzero(self.image != model_memory)
            raise AssertionError(
                f"memory differs from the model at {len(diff)} bytes, first at "
                f"{[hex(int(a)) for a in diff[:8]]}")
        self.check_counters()
