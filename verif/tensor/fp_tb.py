"""cocotb testbench of the floating-point tensor core: clock, reset, drivers, monitors, model."""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hdl.tensor.fp_config import FPTensorCoreConfig
from hdl.tensor.fp_core import fp_operand_layouts, fp_result_layout

from ..models.fp import tile_reference
from ..scoreboard import Scoreboard
from ..stream import CycleCounter, StreamMonitor, StreamSink, StreamSource

__all__ = ["FPTensorCoreTB", "fp_config_from_env"]


def fp_config_from_env():
    """Return the :class:`FPTensorCoreConfig` the runner passed in ``BRGPU_PARAMS``."""
    params = json.loads(os.environ.get("BRGPU_PARAMS", "{}"))
    fields = {k: params[k] for k in ("rows", "cols", "mul_stages", "add_stages") if k in params}
    if "precisions" in params:
        fields["precisions"] = tuple(params["precisions"])
    return FPTensorCoreConfig(**fields)


class FPTensorCoreTB:
    """Testbench of one :class:`hdl.tensor.fp_core.FPTensorCore`.

    Tiles are ``tile_rows x K`` (A) by ``K x cols`` (B) arrays of bit patterns; the model
    (:func:`verif.models.fp.tile_reference`) predicts every result row, compared bit-exact
    with NaNs canonical.

    Parameters
    ----------
    dut
        The cocotb handle of the top level.
    config : FPTensorCoreConfig
    stress : bool
        Random valid gaps on ``a`` and ``b``, random ready backpressure on ``c``, with
        probabilities drawn from the seed.
    """

    def __init__(self, dut, config, *, stress=True):
        self.dut = dut
        self.config = config
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.np_rng = np.random.default_rng(cocotb.RANDOM_SEED)
        a_layout, b_layout = fp_operand_layouts(config)
        c_layout = fp_result_layout(config)
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
        self.scoreboard = Scoreboard("FP tensor core result rows")
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
        self.scoreboard = Scoreboard("FP tensor core result rows")
        self.tiles_expected = 0
        await RisingEdge(self.dut.clk)

    def beats(self, a_tile, b_tile, precisions):
        """Return the ``a`` and ``b`` payloads of one tile (``precisions``: one per K step)."""
        cfg = self.config
        rows, blocks = cfg.rows, cfg.interleave
        a_beats, b_beats = [], []
        k = a_tile.shape[1]
        for step in range(k):
            for t in range(blocks):
                a_beats.append({"data": [int(a_tile[t * rows + i, step]) for i in range(rows)]})
            b_beats.append({
                "data": [int(v) for v in b_tile[step]],
                "precision": FPTensorCoreConfig.precision_code(precisions[step]).value,
                "last": int(step == k - 1),
            })
        return a_beats, b_beats

    def send_tile(self, a_tile, b_tile, precision):
        """Queue one tile and the result rows the model predicts for it; return them.

        ``precision`` is a format name, or one name per K step.
        """
        cfg = self.config
        a_tile, b_tile = np.asarray(a_tile), np.asarray(b_tile)
        k = a_tile.shape[1]
        if a_tile.shape[0] != cfg.tile_rows or b_tile.shape != (k, cfg.cols) or k < 1:
            raise ValueError(f"tile must be {cfg.tile_rows} x K by K x {cfg.cols}, K >= 1, "
                             f"not {a_tile.shape} by {b_tile.shape}")
        precisions = [precision] * k if isinstance(precision, str) else list(precision)
        expected = tile_reference(a_tile, b_tile, precisions)
        a_beats, b_beats = self.beats(a_tile, b_tile, precisions)
        for payload in a_beats:
            self.a.send(payload)
        for payload in b_beats:
            self.b.send(payload)
        for r in range(cfg.tile_rows):
            self.scoreboard.expect({"data": [int(v) for v in expected[r]], "row": r,
                                    "last": int(r == cfg.tile_rows - 1)})
        self.tiles_expected += 1
        return expected

    async def wait_results(self, timeout_cycles):
        """Check result rows as they arrive until every expected tile is back.

        Returns the finished tiles as ``tile_rows x cols`` arrays of ``uint32`` patterns.
        """
        tile_rows = self.config.tile_rows
        tiles, current = [], []
        deadline = self.counter.cycle + timeout_cycles
        wanted = self.tiles_expected
        while len(tiles) < wanted:
            while self.c.received:
                beat = self.c.received.popleft()
                self.scoreboard.check(beat, where=f"(tile {len(tiles)}, cycle "
                                                  f"{self.counter.cycle})")
                current.append(beat["data"])
                if len(current) == tile_rows:
                    tiles.append(np.array(current, dtype=np.uint32))
                    current = []
            if len(tiles) >= wanted:
                break
            if self.counter.cycle > deadline:
                raise AssertionError(
                    f"timeout at cycle {self.counter.cycle}: {len(tiles)} of {wanted} tiles "
                    f"returned, {self.a.sent} a-beats and {self.b.sent} b-beats accepted")
            await RisingEdge(self.dut.clk)
        await ClockCycles(self.dut.clk, self.config.fill_cycles + 2)
        if self.c.received:
            raise AssertionError(f"extra result rows after the last tile: "
                                 f"{list(self.c.received)[:2]!r}")
        self.scoreboard.finish()
        self.tiles_expected = 0
        for monitor in self.monitors:
            assert not monitor.errors, monitor.errors
        return tiles

    def budget(self, k_steps):
        """Return a generous cycle budget for tiles with ``k_steps`` K steps in all."""
        cfg = self.config
        return 40 * (cfg.interleave * k_steps + cfg.fill_cycles + cfg.drain_cycles) + 2000
