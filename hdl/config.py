"""Named configurations of the chip and its blocks.

Every block takes one frozen configuration object. The named configurations are:

``fpga``
    Small enough for an ECP5-85F (ULX3S): an 8x8 INT8 tensor core. The default everywhere.
``br104``
    One tile at BR100 per-tile parameters.
``br100``
    Two tiles joined by the die-to-die link.

Derived figures (peak MAC/cycle, operations per second) are computed here from the parameters,
in one place, so that a configuration reports its own peak numbers.
"""

from dataclasses import dataclass, field

from amaranth.utils import ceil_log2

from .checks import is_int as _is_int
from .checks import is_positive_number

__all__ = ["TensorCoreConfig", "ChipConfig", "CONFIGS", "get_config", "config_names"]

#: The names a :class:`ChipConfig` may have: the blocks look up their own configurations
#: (floating-point tensor core, cache, mesh, HBM, link) by the chip's name.
_CHIP_NAMES = ("fpga", "br104", "br100")


def _is_power_of_two(value):
    return _is_int(value) and value > 0 and value & (value - 1) == 0


@dataclass(frozen=True)
class TensorCoreConfig:
    """Parameters of one systolic tensor core (T-core).

    Parameters
    ----------
    rows : int
        Processing-element rows of the array (rows of the C tile), a power of two in 2..64.
    cols : int
        Processing-element columns (columns of the C tile), a power of two in 2..64.
    k_per_beat : int
        K indices carried per operand beat; every processing element does this many INT8
        multiply-accumulates per cycle (1 or 2). BR100's T-core is modelled as 32x32 PEs with
        two INT8 MACs each.
    signed : bool
        INT8 operands are signed (-128..127) when true, unsigned (0..255) when false.
    """

    rows: int = 8
    cols: int = 8
    k_per_beat: int = 1
    signed: bool = True

    def __post_init__(self):
        for name in ("rows", "cols"):
            value = getattr(self, name)
            if not _is_power_of_two(value) or not 2 <= value <= 64:
                raise ValueError(
                    f"{name} must be a power of two from 2 to 64 (2, 4, 8, 16, 32, 64), "
                    f"not {value!r}")
        if not _is_int(self.k_per_beat) or self.k_per_beat not in (1, 2):
            raise ValueError(f"k_per_beat must be 1 or 2, not {self.k_per_beat!r}")
        if not isinstance(self.signed, bool):
            raise TypeError(f"signed must be a bool, not {self.signed!r}")

    # Widths -------------------------------------------------------------------------------
    operand_width = 8
    acc_width = 32

    @property
    def row_index_width(self):
        """Width of the result row index."""
        return max(1, ceil_log2(self.rows))

    # Derived figures ----------------------------------------------------------------------
    @property
    def int8_macs_per_cycle(self):
        """Peak INT8 multiply-accumulates per cycle of one tensor core."""
        return self.rows * self.cols * self.k_per_beat

    @property
    def fill_cycles(self):
        """Cycles from the last operand beat's handshake to the first result row being valid.

        The beat crosses the skew registers and the array diagonally (``rows + cols - 2``
        hops), plus the operand register, the product register and the accumulator of the
        last processing element (3 cycles).
        """
        return self.rows + self.cols + 1

    @property
    def drain_cycles(self):
        """Cycles the result stream needs for one tile with ready held high (one row per beat)."""
        return self.rows

    def tile_cycles(self, beats):
        """Return the cycles for one tile of ``beats`` operand beats on an idle core.

        Counted from the cycle the first operand beat is accepted to the cycle the last result
        row is accepted, both inclusive, with valid and ready held high on every stream.
        """
        return beats + self.fill_cycles + self.drain_cycles - 1

    def min_beats_per_tile(self):
        """Return the smallest number of beats per tile that back-to-back tiles sustain.

        A tile's last beat may only enter the array once the previous tile has left the
        result bank, so shorter tiles stall the operand streams.
        """
        return self.fill_cycles + self.drain_cycles


@dataclass(frozen=True)
class ChipConfig:
    """A named configuration of the whole chip.

    Parameters
    ----------
    name : str
        The configuration's name, ``fpga``, ``br104`` or ``br100``: the blocks other than the
        INT8 tensor core take their configurations from the preset of this name.
    dies : int
        Compute tiles (dies) in the package, a positive integer.
    spc_per_die : int
        Streaming processing clusters per die, a positive integer.
    eu_per_spc : int
        Execution units per cluster, a positive integer; each EU has one tensor core.
    clock_hz : float
        The core clock the peak figures are quoted at, a positive finite number.
    tensor : TensorCoreConfig
        The tensor core of every EU (by default ``TensorCoreConfig()``).
    """

    name: str
    dies: int
    spc_per_die: int
    eu_per_spc: int
    clock_hz: float
    tensor: TensorCoreConfig = field(default_factory=TensorCoreConfig)

    def __post_init__(self):
        if not isinstance(self.name, str) or self.name not in _CHIP_NAMES:
            raise ValueError(
                f"name must be one of {', '.join(_CHIP_NAMES)}, not {self.name!r}")
        for name in ("dies", "spc_per_die", "eu_per_spc"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not is_positive_number(self.clock_hz):
            raise ValueError(
                f"clock_hz must be a positive finite number, not {self.clock_hz!r}")
        if not isinstance(self.tensor, TensorCoreConfig):
            raise TypeError(f"tensor must be a TensorCoreConfig, not {self.tensor!r}")

    @property
    def tensor_cores(self):
        """Tensor cores (one per EU) in the whole chip."""
        return self.dies * self.spc_per_die * self.eu_per_spc

    @property
    def int8_macs_per_cycle(self):
        """Peak INT8 MAC per cycle of the whole chip."""
        return self.tensor_cores * self.tensor.int8_macs_per_cycle

    @property
    def int8_ops_per_second(self):
        """Peak INT8 operations per second (a MAC is two operations)."""
        return 2 * self.int8_macs_per_cycle * self.clock_hz

    def peak_figures(self):
        """Return the configuration's peak figures as a plain dictionary.

        ``int8_*`` come from the INT8 tensor core (:attr:`tensor`). ``{p}_macs_per_cycle*``
        for every precision ``p`` of the floating-point tensor core of the same named
        configuration (:func:`hdl.tensor.fp_config.fp_tensor_config`), per tensor core and for
        the chip; ``int8`` there is the FP core's merged INT8 mode (``fp_int8_*`` keys).
        ``bf16_tflops_binary`` is the BF16 figure in the unit of the published table
        (2^10 GFLOPS). Every floating-point format runs at one MAC per PE per cycle: BR100
        quotes TF32+ at half and FP32 at a quarter of its BF16 rate, ours run at full rate
        with wider multipliers (see docs/tensor_fp.md).
        """
        from .tensor.fp_config import fp_tensor_config  # hdl.tensor imports this module
        figures = {
            "config": self.name,
            "dies": self.dies,
            "tensor_cores": self.tensor_cores,
            "tensor_core_array": f"{self.tensor.rows}x{self.tensor.cols}",
            "int8_macs_per_cycle_per_tensor_core": self.tensor.int8_macs_per_cycle,
            "int8_macs_per_cycle": self.int8_macs_per_cycle,
            "clock_hz": self.clock_hz,
            "int8_tops": self.int8_ops_per_second / 1e12,
            # The published "2048 TOPS" is 2^21 GOPS: 2048 x 1024 GOPS.
            "int8_tops_binary": self.int8_ops_per_second / 1e9 / 1024,
        }
        fp = fp_tensor_config(self.name)
        figures["fp_tensor_core_array"] = f"{fp.rows}x{fp.cols}"
        for precision in fp.precisions:
            key = "fp_int8" if precision == "int8" else precision
            per_core = fp.macs_per_cycle(precision)
            figures[f"{key}_macs_per_cycle_per_tensor_core"] = per_core
            figures[f"{key}_macs_per_cycle"] = per_core * self.tensor_cores
        if "bf16" in fp.precisions:
            figures["bf16_tflops_binary"] = \
                2 * figures["bf16_macs_per_cycle"] * self.clock_hz / 1e9 / 1024
        return figures


CONFIGS = {
    "fpga": ChipConfig(name="fpga", dies=2, spc_per_die=1, eu_per_spc=1, clock_hz=100e6,
                       tensor=TensorCoreConfig(rows=8, cols=8, k_per_beat=1)),
    "br104": ChipConfig(name="br104", dies=1, spc_per_die=16, eu_per_spc=16, clock_hz=1e9,
                        tensor=TensorCoreConfig(rows=32, cols=32, k_per_beat=2)),
    "br100": ChipConfig(name="br100", dies=2, spc_per_die=16, eu_per_spc=16, clock_hz=1e9,
                        tensor=TensorCoreConfig(rows=32, cols=32, k_per_beat=2)),
}


def config_names():
    """Return the names of the named configurations."""
    return list(CONFIGS)


def get_config(name="fpga"):
    """Return the named configuration ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not one of :func:`config_names`.
    """
    try:
        return CONFIGS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"config must be one of {', '.join(CONFIGS)}, not {name!r}") from None
