"""Configuration of the floating-point tensor core and its operand formats.

Kept next to the block until it joins :mod:`hdl.config`: :class:`FPTensorCoreConfig` is a frozen
dataclass, validated at construction, that the block's derived figures (cycles per tile, peak
MAC/cycle) come from.
"""

from dataclasses import dataclass

from amaranth.lib import enum
from amaranth.utils import ceil_log2

from ..checks import is_int

__all__ = ["Precision", "FloatFormat", "FORMATS", "PRECISIONS", "FPTensorCoreConfig",
           "fp_tensor_config"]


class Precision(enum.Enum, shape=3):
    """Operand format of one K step, carried on the ``b`` stream (``b.payload.precision``)."""

    FP32 = 0
    TF32P = 1
    TF32 = 2
    FP16 = 3
    BF16 = 4
    INT8 = 5


@dataclass(frozen=True)
class FloatFormat:
    """One operand format: sign bit, ``exp_bits`` exponent bits, ``frac_bits`` fraction bits."""

    name: str
    exp_bits: int
    frac_bits: int

    @property
    def width(self):
        """Bits of one encoded operand."""
        return 1 + self.exp_bits + self.frac_bits

    @property
    def significand_bits(self):
        """Significand bits including the implicit leading one."""
        return self.frac_bits + 1


#: The formats, by the names used in :attr:`FPTensorCoreConfig.precisions`. TF32+ (``tf32p``)
#: is 1 + 8 + 15 bits: BR100's layout is not published, this is our assumption.
FORMATS = {
    "fp32": FloatFormat("fp32", 8, 23),
    "tf32p": FloatFormat("tf32p", 8, 15),
    "tf32": FloatFormat("tf32", 8, 10),
    "fp16": FloatFormat("fp16", 5, 10),
    "bf16": FloatFormat("bf16", 8, 7),
}

#: Every precision name :attr:`FPTensorCoreConfig.precisions` accepts: the floating-point
#: formats and ``int8`` (signed 8-bit integers, 32-bit wrap-around accumulation).
PRECISIONS = (*FORMATS, "int8")

_PRECISION_OF = {
    "fp32": Precision.FP32, "tf32p": Precision.TF32P, "tf32": Precision.TF32,
    "fp16": Precision.FP16, "bf16": Precision.BF16, "int8": Precision.INT8,
}

#: Combinational steps of the multiplier and of the adder; a unit has 1 to this many stages.
MUL_STEPS = 4
ADD_STEPS = 6


@dataclass(frozen=True)
class FPTensorCoreConfig:
    """Parameters of the floating-point systolic tensor core.

    Parameters
    ----------
    rows : int
        Processing-element rows, a power of two in 2..64.
    cols : int
        Processing-element columns, a power of two in 2..64.
    precisions : tuple of str
        The precisions built in: a subset of ``fp32``, ``tf32p``, ``tf32``, ``fp16``,
        ``bf16`` with at least one of them, plus optionally ``int8``. The multiplier is as
        wide as the widest significand among the floating-point formats (8 bits for BF16
        alone, 11 with FP16 or TF32, 16 with TF32+, 24 with FP32); INT8 shares it.
    mul_stages : int
        Pipeline registers of the FP32 multiplier, 1..4 (one per step at 4).
    add_stages : int
        Pipeline registers of the FP32 adder, 1..6 (one per step at 6). The array interleaves
        this many row blocks per tile so that the accumulation loop never waits for the adder (see
        :attr:`interleave`).
    int8_macs_per_pe : int
        INT8 multiply-accumulates per processing element per cycle in ``int8`` tiles, 1 or 2
        (the K indices one operand element carries in INT8 mode). The first shares the
        floating-point significand multiplier, the second has its own 8x8 multiplier.
        Ignored (but validated) when ``int8`` is not built in.
    """

    rows: int = 8
    cols: int = 8
    precisions: tuple = ("bf16",)
    mul_stages: int = 2
    add_stages: int = 2
    int8_macs_per_pe: int = 2

    def __post_init__(self):
        for name in ("rows", "cols"):
            value = getattr(self, name)
            if (not is_int(value) or value < 2
                    or value > 64 or value & (value - 1)):
                raise ValueError(
                    f"{name} must be a power of two from 2 to 64 (2, 4, 8, 16, 32, 64), "
                    f"not {value!r}")
        if not isinstance(self.precisions, tuple) or not self.precisions:
            raise TypeError(f"precisions must be a non-empty tuple of names from "
                            f"{', '.join(PRECISIONS)}, not {self.precisions!r}")
        for name in self.precisions:
            if name not in PRECISIONS:
                raise ValueError(f"precisions must name formats from {', '.join(PRECISIONS)}, "
                                 f"not {name!r}")
        if len(set(self.precisions)) != len(self.precisions):
            raise ValueError(f"precisions must not repeat a format, not {self.precisions!r}")
        if not self.float_precisions:
            raise ValueError(f"precisions must include a floating-point format from "
                             f"{', '.join(FORMATS)} (INT8 alone is the INT8 tensor core's "
                             f"job), not {self.precisions!r}")
        if not is_int(self.int8_macs_per_pe) or self.int8_macs_per_pe not in (1, 2):
            raise ValueError(f"int8_macs_per_pe must be 1 or 2, not {self.int8_macs_per_pe!r}")
        for name, steps in (("mul_stages", MUL_STEPS), ("add_stages", ADD_STEPS)):
            value = getattr(self, name)
            if not is_int(value) or not 1 <= value <= steps:
                raise ValueError(f"{name} must be an integer from 1 to {steps}, not {value!r}")

    # Widths -------------------------------------------------------------------------------
    @property
    def float_precisions(self):
        """The floating-point formats built in (``precisions`` without ``int8``)."""
        return tuple(p for p in self.precisions if p in FORMATS)

    @property
    def has_int8(self):
        """True when ``int8`` is built in."""
        return "int8" in self.precisions

    @property
    def int8_lanes(self):
        """INT8 K indices per operand element in ``int8`` tiles (0 without INT8)."""
        return self.int8_macs_per_pe if self.has_int8 else 0

    @property
    def operand_width(self):
        """Bits of one operand element on the ``a`` and ``b`` streams (widest format)."""
        return max(max(FORMATS[p].width for p in self.float_precisions), 8 * self.int8_lanes)

    @property
    def significand_width(self):
        """Significand bits the multiplier handles (widest format, implicit one included)."""
        return max(FORMATS[p].significand_bits for p in self.float_precisions)

    @property
    def precision_codes(self):
        """The :class:`Precision` values built in."""
        return tuple(_PRECISION_OF[p] for p in self.precisions)

    @staticmethod
    def precision_code(name):
        """Return the :class:`Precision` value of the format called ``name``."""
        try:
            return _PRECISION_OF[name]
        except (KeyError, TypeError):
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, "
                             f"not {name!r}") from None

    @property
    def interleave(self):
        """Row blocks a tile interleaves: the latency of the accumulation loop (adder stages)."""
        return self.add_stages

    @property
    def tile_rows(self):
        """Rows of one C tile: ``interleave`` blocks of ``rows`` rows."""
        return self.interleave * self.rows

    @property
    def row_index_width(self):
        """Width of the result row index."""
        return max(1, ceil_log2(self.tile_rows))

    # Timing -------------------------------------------------------------------------------
    @property
    def fill_cycles(self):
        """Cycles from the last ``a`` handshake of a tile to its first result row being valid.

        The beat crosses the skew registers and the array diagonally (``rows + cols - 2``
        hops), then the last processing element's operand register, multiplier and adder, and
        its result register.
        """
        return self.rows + self.cols + self.mul_stages + self.add_stages

    @property
    def int8_fill_cycles(self):
        """:attr:`fill_cycles` of an ``int8`` tile: the integer sum takes no adder stages."""
        return self.rows + self.cols + self.mul_stages

    def fill_cycles_of(self, precision):
        """Return the fill cycles of a tile whose K steps are in ``precision``."""
        return self.int8_fill_cycles if precision == "int8" else self.fill_cycles

    @property
    def drain_cycles(self):
        """Cycles the result stream needs for one tile with ready held high (one row a beat)."""
        return self.tile_rows

    def tile_beats(self, k):
        """Return the ``a`` beats of a tile with ``k`` K steps (``interleave`` per K step)."""
        return self.interleave * k

    def tile_cycles(self, k, precision=None):
        """Return the cycles of one tile of ``k`` K steps on an idle core.

        Counted from the first ``a`` handshake to the last result handshake, both inclusive,
        with valid and ready held high on every stream. ``precision`` ``"int8"`` gives the
        (shorter) figure of an INT8 tile, anything else the floating-point one.
        """
        return self.tile_beats(k) + self.fill_cycles_of(precision) + self.drain_cycles - 1

    def min_k_per_tile(self):
        """Return the smallest K for which back-to-back tiles never stall the operand streams.

        A tile's last K step may only enter the array once the previous tile has left the
        result bank: ``interleave * (K - 1) >= fill_cycles + drain_cycles - 1`` (the
        floating-point fill, which is enough for INT8 tiles too).
        """
        return 1 + -(-(self.fill_cycles + self.drain_cycles - 1) // self.interleave)

    # Derived figures ----------------------------------------------------------------------
    def macs_per_cycle(self, precision):
        """Peak multiply-accumulates per cycle in ``precision``.

        One per processing element for every floating-point format, ``int8_macs_per_pe`` for
        INT8.
        """
        if precision not in self.precisions:
            raise ValueError(f"precision must be one of {', '.join(self.precisions)} for this "
                             f"configuration, not {precision!r}")
        per_pe = self.int8_macs_per_pe if precision == "int8" else 1
        return self.rows * self.cols * per_pe

    def peak_figures(self):
        """Return the peak MAC/cycle per built-in precision as a plain dictionary."""
        return {f"{p}_macs_per_cycle": self.macs_per_cycle(p) for p in self.precisions}


def fp_tensor_config(name="fpga"):
    """Return the floating-point tensor core configuration of a named chip configuration.

    ``fpga``: 4x4, BF16 and INT8 (two INT8 MACs per PE; the 8-bit BF16 significand multiplier
    and the first INT8 product share one ECP5 DSP), a 4-stage multiplier and a 6-stage adder
    (one register per step: the fastest on the ECP5; tiles interleave 6 row blocks). A BF16
    processing element costs about 1,300-1,500 LUT4 on the ECP5 (each has a full FP32 adder),
    so 8x8 would not fit the LFE5U-85F (see docs/tensor_fp.md). ``br104`` and ``br100``:
    32x32, every format and INT8 with two INT8 MACs per PE (1024 BF16 and 2048 INT8 MAC per
    tensor core per cycle), 3-stage multiplier, 4-stage adder.
    """
    if name == "fpga":
        return FPTensorCoreConfig(rows=4, cols=4, precisions=("bf16", "int8"), mul_stages=4,
                                  add_stages=6, int8_macs_per_pe=2)
    if name in ("br104", "br100"):
        return FPTensorCoreConfig(rows=32, cols=32, precisions=PRECISIONS, mul_stages=3,
                                  add_stages=4, int8_macs_per_pe=2)
    raise ValueError(f"config must be one of fpga, br104, br100, not {name!r}")
