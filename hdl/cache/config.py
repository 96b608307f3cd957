"""Configuration of one L2 cache slice: geometry, ports, MSHRs and replacement policy."""

from dataclasses import dataclass

from ..checks import is_int

__all__ = ["POLICIES", "CacheConfig", "cache_config_names"]

#: Replacement policies (the same names as the golden model, ``verif.models.cache``).
POLICIES = ("plru", "lru", "random")


def _is_power_of_two(value):
    return value > 0 and value & (value - 1) == 0


def _log2(value):
    return value.bit_length() - 1


# Named presets. ``fpga``: 32 KiB slice (two of them in the ECP5 build). ``br104``/``br100``:
# 8 MB of L2 per cluster split into 8 slices of 1 MiB, 16-way, 128 B lines (the HBM2E burst of
# a pseudo-channel is 32 B x BL4 = 128 B), 36-bit addresses for 64 GiB of HBM2E.
_PRESETS = {
    "fpga": dict(capacity=32 * 1024, ways=4, line_bytes=64, data_bytes=8, mshrs=4,
                 addr_width=32),
    "br104": dict(capacity=1024 * 1024, ways=16, line_bytes=128, data_bytes=32, mshrs=32,
                  addr_width=36),
    "br100": dict(capacity=1024 * 1024, ways=16, line_bytes=128, data_bytes=32, mshrs=32,
                  addr_width=36),
}


def cache_config_names():
    """Return the names of the preset slice configurations."""
    return list(_PRESETS)


@dataclass(frozen=True, kw_only=True)
class CacheConfig:
    """Parameters of one L2 cache slice.

    Parameters
    ----------
    capacity : int
        Data capacity in bytes; a power of two, at least ``ways * line_bytes`` (one set).
    ways : int
        Associativity; a power of two (1 is direct mapped).
    line_bytes : int
        Line size in bytes; a power of two from 4 to 256. The memory side moves whole lines.
    data_bytes : int
        Width of the core-side data port in bytes; a power of two, at most ``line_bytes``.
    mshrs : int
        Miss status holding registers (outstanding line fills); 1 to 64. It also sets the
        width of the memory-side ``id``.
    mshr_targets : int
        Requests one MSHR holds: the miss itself and the requests merged into it; 1 to 16.
    policy : str
        Replacement policy: ``"plru"`` (tree pseudo-LRU, default), ``"lru"`` or ``"random"``.
    seed : int
        Reset value of the random policy's 16-bit LFSR; 1..65535.
    addr_width : int
        Width of a byte address; wide enough for the offset and index fields, at most 64.
    id_width : int
        Width of the core-side request ID; 1 to 16.
    banks : int
        Data RAM banks; a power of two from 1 to ``sets``. The data array is split by set
        (set ``s`` lives in bank ``s % banks``) into ``banks`` separate memories, each with its
        own write port, so a fill and a core write (a write hit or a replayed write) to
        different banks are both written in the same cycle; with one bank the core write
        waits for the fill.

    Raises
    ------
    TypeError
        If a numeric parameter is not an ``int`` or ``policy`` is not a ``str``.
    ValueError
        If a value is out of range; the message names the parameter and the allowed values.
    """

    capacity: int
    ways: int
    line_bytes: int
    data_bytes: int = 8
    mshrs: int = 4
    mshr_targets: int = 4
    policy: str = "plru"
    seed: int = 1
    addr_width: int = 32
    id_width: int = 8
    banks: int = 1

    def __post_init__(self):
        for name in ("capacity", "ways", "line_bytes", "data_bytes", "mshrs", "mshr_targets",
                     "seed", "addr_width", "id_width", "banks"):
            value = getattr(self, name)
            if not is_int(value):
                raise TypeError(f"{name} must be an integer, not {value!r}")
        for name in ("capacity", "ways", "line_bytes", "data_bytes"):
            value = getattr(self, name)
            if not _is_power_of_two(value):
                raise ValueError(f"{name} must be a power of two, not {value!r}")
        if not 4 <= self.line_bytes <= 256:
            raise ValueError(f"line_bytes must be a power of two from 4 to 256, "
                             f"not {self.line_bytes!r}")
        if self.capacity < self.line_bytes:
            raise ValueError(f"capacity must be at least one line (line_bytes = "
                             f"{self.line_bytes} bytes), not {self.capacity!r}")
        if self.capacity < self.ways * self.line_bytes:
            raise ValueError(f"capacity must be at least ways * line_bytes = "
                             f"{self.ways * self.line_bytes} bytes (one set), "
                             f"not {self.capacity!r}")
        if self.data_bytes > self.line_bytes:
            raise ValueError(f"data_bytes must be a power of two at most line_bytes = "
                             f"{self.line_bytes}, not {self.data_bytes!r}")
        if not 1 <= self.mshrs <= 64:
            raise ValueError(f"mshrs must be from 1 to 64, not {self.mshrs!r}")
        if not 1 <= self.mshr_targets <= 16:
            raise ValueError(f"mshr_targets must be from 1 to 16, not {self.mshr_targets!r}")
        if not isinstance(self.policy, str):
            raise TypeError(f"policy must be a string, not {self.policy!r}")
        if self.policy not in POLICIES:
            allowed = ", ".join(repr(p) for p in POLICIES)
            raise ValueError(f"policy must be one of {allowed}, not {self.policy!r}")
        if not 1 <= self.seed <= 0xFFFF:
            raise ValueError(f"seed must be a nonzero 16-bit value (1..65535), "
                             f"not {self.seed!r}")
        if not self.offset_bits + self.index_bits < self.addr_width <= 64:
            raise ValueError(f"addr_width must be from {self.offset_bits + self.index_bits + 1}"
                             f" (offset + index + 1 tag bit) to 64, not {self.addr_width!r}")
        if not 1 <= self.id_width <= 16:
            raise ValueError(f"id_width must be from 1 to 16, not {self.id_width!r}")
        if not _is_power_of_two(self.banks) or self.banks > self.sets:
            raise ValueError(f"banks must be a power of two from 1 to sets = {self.sets}, "
                             f"not {self.banks!r}")

    @classmethod
    def named(cls, name="fpga", **overrides):
        """Return the preset ``name`` (``fpga``, ``br104`` or ``br100``) with ``overrides``."""
        if not isinstance(name, str) or name not in _PRESETS:
            allowed = ", ".join(repr(n) for n in _PRESETS)
            raise ValueError(f"name must be one of {allowed}, not {name!r}")
        return cls(**{**_PRESETS[name], **overrides})

    @classmethod
    def fpga(cls, **overrides):
        """Return the ``fpga`` preset: 32 KiB, 4-way, 64 B lines, 8 B port, 4 MSHRs."""
        return cls.named("fpga", **overrides)

    @classmethod
    def br104(cls, **overrides):
        """Return the ``br104`` preset (same slice as ``br100``)."""
        return cls.named("br104", **overrides)

    @classmethod
    def br100(cls, **overrides):
        """Return the ``br100`` preset: 1 MiB, 16-way, 128 B lines, 32 B port, 32 MSHRs."""
        return cls.named("br100", **overrides)

    # Geometry -----------------------------------------------------------------------------
    @property
    def sets(self):
        """Number of sets."""
        return self.capacity // (self.ways * self.line_bytes)

    @property
    def lines(self):
        """Number of lines (sets x ways)."""
        return self.capacity // self.line_bytes

    @property
    def offset_bits(self):
        """Width of the byte-in-line offset field of an address."""
        return _log2(self.line_bytes)

    @property
    def index_bits(self):
        """Width of the set index field of an address."""
        return _log2(self.sets)

    @property
    def tag_bits(self):
        """Width of the tag field of an address."""
        return self.addr_width - self.offset_bits - self.index_bits

    @property
    def way_bits(self):
        """Width of a way number (at least 1)."""
        return max(1, _log2(self.ways))

    @property
    def word_bits(self):
        """Width of the byte-in-word field of an address (low bits the slice ignores)."""
        return _log2(self.data_bytes)

    @property
    def words_per_line(self):
        """Core-side data words per line."""
        return self.line_bytes // self.data_bytes

    @property
    def bank_bits(self):
        """Width of the bank number (the low bits of the set index); 0 with one bank."""
        return _log2(self.banks)

    @property
    def mem_id_width(self):
        """Width of the memory-side ``id`` (enough to name every MSHR)."""
        return max(1, (self.mshrs - 1).bit_length())

    # Derived figures ----------------------------------------------------------------------
    @property
    def hit_bytes_per_cycle(self):
        """Peak core-side bandwidth: one hit of ``data_bytes`` per cycle."""
        return self.data_bytes
