"""cocotb testbench of the tensor core: clock, reset, operand sources, result sink, monitors."""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hdl.config import TensorCoreConfig
from hdl.tensor.core import operand_layouts, result_layout

from ..params import soak_factor
from ..scoreboard import Scoreboard
from ..stream import CycleCounter, StreamMonitor, StreamSink, StreamSource

__all__ = ["SystolicArrayTB", "TensorCoreTB", "config_from_env", "soak_factor"]


def config_from_env():
    """Return the :class:`TensorCoreConfig` the runner passed in ``BRGPU_PARAMS``."""
    params = json.loads(os.environ.get("BRGPU_PARAMS", "{}"))
    fields = {k: params[k] for k in ("rows", "cols", "k_per_beat", "signed") if k in params}
    return TensorCoreConfig(**fields)




class SystolicArrayTB:
    """Clock, reset, operand sources, result sink, monitors and scoreboard of a systolic array.

    The common part of the INT8 and floating-point tensor core testbenches: operands on the
    ``a`` and ``b`` streams, result rows on ``c``, ``tile_rows`` rows per tile.

    Parameters
    ----------
    dut
        The cocotb handle of the top level.
    config
        The configuration the design was built with (logged).
    layouts : tuple
        The payload layouts of ``a``, ``b`` and ``c``.
    tile_rows : int
        Result rows per tile.
    result_dtype
        numpy dtype of the returned result tiles.
    name : str
        Used in scoreboard messages.
    stress : bool
        Random valid gaps on ``a`` and ``b`` and random ready backpressure on ``c``; the
        probabilities are drawn per test from the seed and logged.
    """

    def __init__(self, dut, config, *, layouts, tile_rows, result_dtype, name, stress=True):
        self.dut = dut
        self.config = config
        self.tile_rows = tile_rows
        self.result_dtype = result_dtype
        self.name = name
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.np_rng = np.random.default_rng(cocotb.RANDOM_SEED)
        a_layout, b_layout, c_layout = layouts
        if stress:
            a_prob, b_prob = self.rng.choice([0.3, 0.7, 0.95]), self.rng.choice([0.3, 0.7, 0.95])
            c_prob = self.rng.choice([0.2, 0.5, 0.9])
        else:
            a_prob = b_prob = c_prob = 1.0
        dut._log.info("config %s; valid probability a=%.2f b=%.2f, ready probability c=%.2f",
                      config, a_prob, b_prob, c_prob)
        clk, rst = dut.clk, dut.rst
        self.counter = CycleCounter(clk)
        self.a = StreamSource(dut, "a", clk, a_layout, rng=self.rng, valid_prob=a_prob, reset=rst)
        self.b = StreamSource(dut, "b", clk, b_layout, rng=self.rng, valid_prob=b_prob, reset=rst)
        self.c = StreamSink(dut, "c", clk, c_layout, rng=self.rng, ready_prob=c_prob, reset=rst)
        self.monitors = [StreamMonitor(dut, name, clk, layout, reset=rst)
                         for name, layout in (("a", a_layout), ("b", b_layout), ("c", c_layout))]
        self.scoreboard = Scoreboard(f"{self.name} result rows")
        self.tiles_expected = 0

    async def start(self):
        """Start the clock and every driver, then reset the design."""
        Clock(self.dut.clk, 10, unit="ns").start()
        cocotb.start_soon(self.counter.run())
        cocotb.start_soon(self.a.run(self.counter))
        cocotb.start_soon(self.b.run(self.counter))
        cocotb.start_soon(self.c.run(self.counter))
        for monitor in self.monitors:
            cocotb.start_soon(monitor.run(self.counter))
        await self.reset()

    async def reset(self, cycles=3):
        """Hold reset for ``cycles`` cycles, dropping queued operands and expectations."""
        self.dut.rst.value = 1
        self.a.clear()
        self.b.clear()
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        self.c.received.clear()
        self.scoreboard = Scoreboard(f"{self.name} result rows")
        self.tiles_expected = 0
        await RisingEdge(self.dut.clk)

    def expect_tile(self, expected):
        """Queue the result rows the model predicts for one tile."""
        for r in range(self.tile_rows):
            self.scoreboard.expect({"data": [int(v) for v in expected[r]], "row": r,
                                    "last": int(r == self.tile_rows - 1)})
        self.tiles_expected += 1

    async def wait_results(self, timeout_cycles):
        """Check result rows as they arrive until every expected tile is back.

        Returns the finished tiles as ``tile_rows x cols`` arrays of ``result_dtype``.
        """
        tiles, current = [], []
        deadline = self.counter.cycle + timeout_cycles
        wanted = self.tiles_expected
        while len(tiles) < wanted:
            while self.c.received:
                beat = self.c.received.popleft()
                self.scoreboard.check(beat, where=f"(tile {len(tiles)}, cycle "
                                                  f"{self.counter.cycle})")
                current.append(beat["data"])
                if len(current) == self.tile_rows:
                    tiles.append(np.array(current, dtype=self.result_dtype))
                    current = []
            if len(tiles) >= wanted:
                break
            if self.counter.cycle > deadline:
                raise AssertionError(
                    f"timeout at cycle {self.counter.cycle}: {len(tiles)} of "
                    f"{wanted} tiles returned, {self.a.sent} a-beats and "
                    f"{self.b.sent} b-beats accepted")
            await RisingEdge(self.dut.clk)
        # Nothing more may come out.
        await ClockCycles(self.dut.clk, self.config.fill_cycles + 2)
        if self.c.received:
            raise AssertionError(f"extra result rows after the last tile: "
                                 f"{list(self.c.received)[:2]!r}")
        self.scoreboard.finish()
        self.tiles_expected = 0
        for monitor in self.monitors:
            assert not monitor.errors, monitor.errors
        return tiles


class TensorCoreTB(SystolicArrayTB):
    """Testbench of one :class:`hdl.tensor.core.TensorCore`.

    Parameters
    ----------
    dut
        The cocotb handle of the top level.
    config : TensorCoreConfig
        The configuration the design was built with.
    stress : bool
        Random valid gaps and backpressure, as in :class:`SystolicArrayTB`.
    """

    def __init__(self, dut, config, *, stress=True):
        super().__init__(dut, config, layouts=(*operand_layouts(config), result_layout(config)),
                         tile_rows=config.rows, result_dtype=np.int64, name="tensor core",
                         stress=stress)

    def beats(self, a_tile, b_tile):
        """Return the ``a`` and ``b`` payloads that stream one tile."""
        cfg = self.config
        kpb = cfg.k_per_beat
        k = a_tile.shape[1]
        if k % kpb:
            raise ValueError(f"tile K={k} is not a multiple of k_per_beat={kpb}")
        a_beats, b_beats = [], []
        for beat, k0 in enumerate(range(0, k, kpb)):
            a_beats.append({
                "data": [[int(a_tile[i, k0 + kk]) for kk in range(kpb)] for i in range(cfg.rows)],
                "last": int(beat == k // kpb - 1),
            })
            b_beats.append({
                "data": [[int(b_tile[k0 + kk, j]) for kk in range(kpb)] for j in range(cfg.cols)],
            })
        return a_beats, b_beats

    def send_tile(self, a_tile, b_tile, expected):
        """Queue one tile's operands and the result rows the model predicts for it."""
        a_beats, b_beats = self.beats(a_tile, b_tile)
        for payload in a_beats:
            self.a.send(payload)
        for payload in b_beats:
            self.b.send(payload)
        self.expect_tile(expected)
