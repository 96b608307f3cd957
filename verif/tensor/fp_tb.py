"""cocotb testbench of the floating-point tensor core: clock, reset, drivers, monitors, model."""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hdl.tensor.fp_config import FPTensorCoreConfig
from hdl.tensor.fp_core import fp_operand_layouts, fp_result_layout

from ..models import tensor as int8_model
from ..models.fp import tile_reference
from .tb import SystolicArrayTB

__all__ = ["FPTensorCoreTB", "fp_config_from_env", "UNCHECKED"]


class _Unchecked:
    """Equal to everything: the data of a result row whose values are unspecified."""

    def __eq__(self, other):
        return True

    def __hash__(self):
        return 0

    def __repr__(self):
        return "<unchecked>"


#: Stands for the data of result rows the protocol leaves unspecified.
UNCHECKED = _Unchecked()


def fp_config_from_env():
    """Return the :class:`FPTensorCoreConfig` the runner passed in ``BRGPU_PARAMS``."""
    params = json.loads(os.environ.get("BRGPU_PARAMS", "{}"))
    fields = {k: params[k] for k in ("rows", "cols", "mul_stages", "add_stages",
                                     "int8_macs_per_pe") if k in params}
    if "precisions" in params:
        fields["precisions"] = tuple(params["precisions"])
    return FPTensorCoreConfig(**fields)


class FPTensorCoreTB(SystolicArrayTB):
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
        super().__init__(dut, config,
                         layouts=(*fp_operand_layouts(config), fp_result_layout(config)),
                         tile_rows=config.tile_rows, result_dtype=np.uint32,
                         name="FP tensor core", stress=stress)

    async def start_clock_and_reset(self):
        """Start the clock and reset the design, without the drivers (see :meth:`start_drivers`).

        For tests that drive the ports directly for a while (long constant streams, no Python
        work per cycle) before handing over to the drivers.
        """
        Clock(self.dut.clk, 10, unit="ns").start()
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def start_drivers(self):
        """Start the cycle counter, the stream drivers and the monitors (no reset)."""
        cocotb.start_soon(self.counter.run())
        for driver in (self.a, self.b, self.c, *self.monitors):
            cocotb.start_soon(driver.run(self.counter))

    def beats(self, a_tile, b_tile, precisions):
        """Return the ``a`` and ``b`` payloads of one tile.

        ``precisions`` has one name per K step. For an INT8 tile (every step ``int8``) the
        tiles hold integers, ``int8_lanes`` K indices per step, lane ``kk`` of an element in
        bits ``8 kk .. 8 kk + 7`` as two's complement.
        """
        cfg = self.config
        rows, blocks = cfg.rows, cfg.interleave
        lanes = cfg.int8_lanes if precisions and precisions[0] == "int8" else 1

        def element(values):
            if lanes == 1 and precisions[0] != "int8":
                return int(values[0])
            return sum((int(v) & 0xFF) << (8 * kk) for kk, v in enumerate(values))

        a_beats, b_beats = [], []
        steps = len(precisions)
        for step in range(steps):
            ks = slice(step * lanes, (step + 1) * lanes)
            for t in range(blocks):
                a_beats.append({"data": [element(a_tile[t * rows + i, ks])
                                         for i in range(rows)]})
            b_beats.append({
                "data": [element(b_tile[ks, j]) for j in range(cfg.cols)],
                "precision": FPTensorCoreConfig.precision_code(precisions[step]).value,
                "last": int(step == steps - 1),
            })
        return a_beats, b_beats

    def send_tile(self, a_tile, b_tile, precision):
        """Queue one tile and the result rows the model predicts for it; return them.

        ``precision`` is a format name, or one floating-point format name per K step. An
        ``int8`` tile holds integers in -128..127 and ``int8_lanes`` K indices per K step;
        its model is the INT8 core's integer model (:mod:`verif.models.tensor`, INT32
        wrap-around), its results INT32 patterns. A tile may not mix INT8 and floating-point
        K steps (a protocol error, see docs/tensor_fp.md).
        """
        cfg = self.config
        a_tile, b_tile = np.asarray(a_tile), np.asarray(b_tile)
        k = a_tile.shape[1]
        if a_tile.shape[0] != cfg.tile_rows or b_tile.shape != (k, cfg.cols) or k < 1:
            raise ValueError(f"tile must be {cfg.tile_rows} x K by K x {cfg.cols}, K >= 1, "
                             f"not {a_tile.shape} by {b_tile.shape}")
        if precision == "int8":
            lanes = cfg.int8_lanes
            if not lanes or k % lanes:
                raise ValueError(f"an int8 tile needs int8 built in and K a multiple of "
                                 f"{lanes}, not K={k}")
            precisions = ["int8"] * (k // lanes)
            expected = int8_model.tile_reference(a_tile, b_tile, signed=True)
            expected = expected.astype(np.int64) & 0xFFFFFFFF
        else:
            precisions = [precision] * k if isinstance(precision, str) else list(precision)
            if "int8" in precisions:
                raise ValueError("a tile must not mix int8 and floating-point K steps")
            expected = tile_reference(a_tile, b_tile, precisions)
        a_beats, b_beats = self.beats(a_tile, b_tile, precisions)
        for payload in a_beats:
            self.a.send(payload)
        for payload in b_beats:
            self.b.send(payload)
        self.expect_tile(expected)
        return expected

    def send_int8_fp_mixed_tile(self, precisions):
        """Queue a tile whose K steps mix ``int8`` and floating-point formats.

        That is a protocol error (docs/tensor_fp.md): the tile's values are unspecified, but
        it must still come out as exactly ``tile_rows`` rows with the right ``row`` and
        ``last``, and leave the following tiles unaffected. The operands are random patterns;
        the expected rows check ``row`` and ``last`` only.
        """
        cfg = self.config
        top = 1 << cfg.operand_width
        for step, precision in enumerate(precisions):
            for _ in range(cfg.interleave):
                self.a.send({"data": [int(v) for v in self.np_rng.integers(0, top, cfg.rows)]})
            self.b.send({
                "data": [int(v) for v in self.np_rng.integers(0, top, cfg.cols)],
                "precision": FPTensorCoreConfig.precision_code(precision).value,
                "last": int(step == len(precisions) - 1),
            })
        for r in range(self.tile_rows):
            self.scoreboard.expect({"data": UNCHECKED, "row": r,
                                    "last": int(r == self.tile_rows - 1)})
        self.tiles_expected += 1

    def budget(self, k_steps):
        """Return a generous cycle budget for tiles with ``k_steps`` K steps in all."""
        cfg = self.config
        return 40 * (cfg.interleave * k_steps + cfg.fill_cycles + cfg.drain_cycles) + 2000
