"""cocotb testbench of the floating-point tensor core: clock, reset, drivers, monitors, model."""

import json
import os

import numpy as np

from hdl.tensor.fp_config import FPTensorCoreConfig
from hdl.tensor.fp_core import fp_operand_layouts, fp_result_layout

from ..models.fp import tile_reference
from .tb import SystolicArrayTB

__all__ = ["FPTensorCoreTB", "fp_config_from_env"]


def fp_config_from_env():
    """Return the :class:`FPTensorCoreConfig` the runner passed in ``BRGPU_PARAMS``."""
    params = json.loads(os.environ.get("BRGPU_PARAMS", "{}"))
    fields = {k: params[k] for k in ("rows", "cols", "mul_stages", "add_stages") if k in params}
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
        self.expect_tile(expected)
        return expected

    def budget(self, k_steps):
        """Return a generous cycle budget for tiles with ``k_steps`` K steps in all."""
        cfg = self.config
        return 40 * (cfg.interleave * k_steps + cfg.fill_cycles + cfg.drain_cycles) + 2000
