"""Golden model of one L2 cache slice: set-associative, write-back, write-allocate.

The model is sequential: it processes requests one at a time, in the order given, and
predicts for each one its read data, whether it hit, and which dirty lines it wrote back.
It owns no memory of its own: it is given a flat ``numpy`` image of memory (``uint8``, one
element per byte) and writes dirty lines into that array, in place, when they leave the
cache or are flushed. After :meth:`CacheModel.flush_all` the array equals, byte for byte,
the memory that the request stream defines.

The RTL of the slice is written from this docstring. Every behaviour below is a decision
the RTL must match.

Geometry
--------
``sets = capacity // (ways * line_bytes)``. A byte address splits, from the least
significant bit, into ``offset`` (``log2(line_bytes)`` bits), ``index`` (``log2(sets)``
bits, selects the set) and ``tag`` (the remaining ``addr_width - offset - index`` bits).
A line address is a byte address with its offset bits clear.

Requests
--------
* ``READ addr size``: returns ``size`` bytes from ``addr``. ``WRITE addr data byte_enable``:
  writes byte ``data[i]`` to ``addr + i`` wherever ``byte_enable[i]`` is set (a ``bool``
  array or an integer mask whose bit ``i`` enables byte ``i``; ``None`` enables all).
* An access must lie within one line: ``1 <= size`` and
  ``offset(addr) + size <= line_bytes``. No other alignment is required by the model.
* ``FLUSH_LINE addr``, ``INVALIDATE_LINE addr``: act on the line holding ``addr``.
  ``FLUSH_ALL``, ``INVALIDATE_ALL``: act on every line; their address is ignored.

Hits, misses and allocation
---------------------------
* Every READ and every WRITE counts exactly one hit or one miss. A line is hit when a
  valid way of its set holds its tag.
* On a miss (READ or WRITE: write-allocate) a way of the set is chosen. If the set has an
  invalid way, the lowest-numbered invalid way is used and the replacement policy is not
  consulted (the random policy's LFSR does not step). Otherwise the policy names the victim,
  which is evicted: ``evictions`` counts it, and if it is dirty it is written back first
  (``writebacks`` counts it). The whole line is then fetched from memory (the fill), marked
  valid and clean, and the access proceeds as a hit would.
* A WRITE merges its enabled bytes into the line and marks it dirty. The line is marked
  dirty by every WRITE, even one whose byte enables are all clear (which still counts a
  hit or miss, allocates on a miss and updates the replacement state).
* The replacement state of a set is updated ("touched") by every READ and WRITE, hit or
  miss, with the way accessed. Nothing else touches it.

Flush and invalidate
--------------------
* FLUSH_LINE: if the line is present and dirty, write it back (``writebacks`` counts it) and
  mark it clean. The line stays valid: a flush is a "clean", not a "clean and invalidate";
  issue FLUSH_LINE then INVALIDATE_LINE for the latter.
* INVALIDATE_LINE: if the line is present, mark the way invalid. Dirty data is discarded
  without a write-back: the bytes written since the last write-back are lost, and memory
  keeps its older contents.
* FLUSH_ALL: FLUSH_LINE on every valid dirty line, in set order then way order (the order
  of the ``writebacks`` list in :class:`Result`; the RTL may write back in any order).
  INVALIDATE_ALL: INVALIDATE_LINE on every line, dropping all dirty data.
* The four flush/invalidate operations are neither hits nor misses: they change none of the
  ``hits``, ``misses`` and ``evictions`` counters (only ``writebacks``), their
  :class:`Result` carries ``hit=None``, and an absent line makes them a no-op. They never
  touch the replacement state and never step the LFSR.
* Invalidation does not reset replacement state, and whether the RTL resets it does not
  matter: the policy is consulted only when every way of the set is valid, and a way becomes
  valid only through a fill, which touches it. So by the time the policy is consulted every
  way has been touched since the set was last (partly) emptied, every tree-PLRU bit has been
  rewritten and the LRU order is fully determined by those touches.

Replacement policies
--------------------
* ``"plru"`` (default), tree pseudo-LRU, ``ways - 1`` bits per set: see :class:`TreePLRU`.
* ``"lru"``, true LRU: see :class:`TrueLRU`.
* ``"random"``: one 16-bit Galois LFSR per slice (shared by all sets), see
  :class:`GaloisLFSR16` and :class:`RandomReplacement`.

Counters
--------
``hits``, ``misses``: READ and WRITE outcomes. ``evictions``: valid lines displaced by a
fill (clean or dirty; flushes and invalidations are not evictions). ``writebacks``: lines
written to memory, for any reason (dirty eviction, FLUSH_LINE, FLUSH_ALL).

What the model leaves out
-------------------------
The number of MSHRs and the merging of requests into an outstanding miss are timing
artefacts of the non-blocking RTL and are not modelled. The RTL may answer out of order
(matched by ID) but must behave as if it processed requests one by one in arrival order. A
request to a line whose fill an earlier request started is a hit in this model; the RTL may
count it as a merge instead, so the model's ``hits`` equals the RTL's hits plus merges.
"""

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

__all__ = [
    "POLICIES",
    "BruteForceLRU",
    "CacheModel",
    "CacheModelConfig",
    "GaloisLFSR16",
    "LineState",
    "Op",
    "RandomReplacement",
    "ReplacementPolicy",
    "Result",
    "TreePLRU",
    "TrueLRU",
]

#: Replacement policies accepted by :class:`CacheModelConfig`.
POLICIES = ("plru", "lru", "random")

_NAMED_CONFIGS = {
    # 32 KiB slice for the ECP5-85F build; 32-bit byte addresses.
    "fpga": dict(capacity=32 * 1024, ways=4, line_bytes=64, addr_width=32),
    # 1 MiB slice of a BR100-class tile; 36-bit addresses cover the 64 GiB of HBM2E.
    "br104": dict(capacity=1024 * 1024, ways=16, line_bytes=128, addr_width=36),
    "br100": dict(capacity=1024 * 1024, ways=16, line_bytes=128, addr_width=36),
}


def _is_power_of_two(value):
    return value > 0 and value & (value - 1) == 0


def _log2(value):
    return value.bit_length() - 1


@dataclass(frozen=True, kw_only=True)
class CacheModelConfig:
    """Describe the geometry and replacement policy of one cache slice.

    Parameters
    ----------
    capacity : int
        Data capacity in bytes; a power of two, at least ``ways * line_bytes``.
    ways : int
        Associativity; a power of two.
    line_bytes : int
        Line size in bytes; a power of two.
    policy : str
        Replacement policy: ``"plru"`` (tree pseudo-LRU), ``"lru"`` or ``"random"``.
    seed : int
        Reset value of the random policy's 16-bit LFSR; nonzero. Checked for every policy.
    addr_width : int
        Width of a byte address in bits; at most 64 and wide enough for offset and index.

    Raises
    ------
    TypeError
        If a numeric parameter is not an ``int`` or ``policy`` is not a ``str``.
    ValueError
        If a parameter is out of range; the message names the parameter and the value.
    """

    capacity: int
    ways: int
    line_bytes: int
    policy: str = "plru"
    seed: int = 1
    addr_width: int = 32

    def __post_init__(self):
        for name in ("capacity", "ways", "line_bytes", "seed", "addr_width"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an integer, not {value!r}")
        for name in ("capacity", "ways", "line_bytes"):
            value = getattr(self, name)
            if not _is_power_of_two(value):
                raise ValueError(f"{name} must be a power of two, not {value!r}")
        if self.capacity < self.ways * self.line_bytes:
            raise ValueError(
                f"capacity must be at least ways * line_bytes = {self.ways * self.line_bytes} "
                f"bytes (one set), not {self.capacity!r}"
            )
        if not isinstance(self.policy, str):
            raise TypeError(f"policy must be a string, not {self.policy!r}")
        if self.policy not in POLICIES:
            allowed = ", ".join(repr(name) for name in POLICIES)
            raise ValueError(f"policy must be one of {allowed}, not {self.policy!r}")
        if not 1 <= self.seed <= 0xFFFF:
            raise ValueError(f"seed must be a nonzero 16-bit value (1..65535), not {self.seed!r}")
        if not self.offset_bits + self.index_bits <= self.addr_width <= 64:
            raise ValueError(
                f"addr_width must be between offset + index bits = "
                f"{self.offset_bits + self.index_bits} and 64, not {self.addr_width!r}"
            )

    @classmethod
    def named(cls, name, **overrides):
        """Return the slice configuration of a named chip configuration.

        Parameters
        ----------
        name : str
            ``"fpga"`` (32 KiB, 4-way, 64 B lines), ``"br104"`` or ``"br100"`` (1 MiB,
            16-way, 128 B lines).
        **overrides
            Fields to change, e.g. ``policy="lru"``.

        Returns
        -------
        CacheModelConfig
        """
        if name not in _NAMED_CONFIGS:
            allowed = ", ".join(repr(known) for known in _NAMED_CONFIGS)
            raise ValueError(f"name must be one of {allowed}, not {name!r}")
        return cls(**{**_NAMED_CONFIGS[name], **overrides})

    @property
    def sets(self):
        """Number of sets."""
        return self.capacity // (self.ways * self.line_bytes)

    @property
    def offset_bits(self):
        """Width of the byte-in-line offset field."""
        return _log2(self.line_bytes)

    @property
    def index_bits(self):
        """Width of the set index field."""
        return _log2(self.sets)

    @property
    def tag_bits(self):
        """Width of the tag field."""
        return self.addr_width - self.offset_bits - self.index_bits

    def offset(self, addr):
        """Return the byte offset of ``addr`` within its line."""
        return addr & (self.line_bytes - 1)

    def index(self, addr):
        """Return the set index of ``addr``."""
        return (addr >> self.offset_bits) & (self.sets - 1)

    def tag(self, addr):
        """Return the tag of ``addr``."""
        return addr >> (self.offset_bits + self.index_bits)

    def split(self, addr):
        """Split ``addr`` into ``(tag, index, offset)``."""
        return self.tag(addr), self.index(addr), self.offset(addr)

    def join(self, tag, index, offset=0):
        """Return the byte address made of ``tag``, ``index`` and ``offset``."""
        return (((tag << self.index_bits) | index) << self.offset_bits) | offset

    def line_addr(self, addr):
        """Return the address of the line holding ``addr`` (offset bits cleared)."""
        return addr & ~(self.line_bytes - 1)


class GaloisLFSR16:
    """Generate pseudo-random numbers with a 16-bit Galois LFSR, x^16+x^14+x^13+x^11+1.

    One step shifts the state right by one bit; if the bit shifted out was 1 the state is
    XORed with the toggle mask ``0xB400`` (bits 15, 13, 12 and 10, i.e. the taps of the
    polynomial). The sequence from any nonzero seed has period 65535 and never reaches 0.
    From seed 1 the states are ``0xB400, 0x5A00, 0x2D00, ...``.

    Parameters
    ----------
    seed : int
        Reset state, 1..65535.
    """

    TOGGLE_MASK = 0xB400

    def __init__(self, seed=1):
        if not isinstance(seed, int) or not 1 <= seed <= 0xFFFF:
            raise ValueError(f"seed must be a nonzero 16-bit value (1..65535), not {seed!r}")
        self._state = seed

    @property
    def state(self):
        """Current 16-bit state."""
        return self._state

    def step(self):
        """Advance one step and return the new state."""
        shifted_out = self._state & 1
        self._state >>= 1
        if shifted_out:
            self._state ^= self.TOGGLE_MASK
        return self._state


class ReplacementPolicy:
    """Hold the replacement state of one set and name victims.

    Parameters
    ----------
    ways : int
        Associativity of the set; a power of two.
    """

    def __init__(self, ways):
        if not isinstance(ways, int) or not _is_power_of_two(ways):
            raise ValueError(f"ways must be a power of two, not {ways!r}")
        self._ways = ways

    @property
    def ways(self):
        """Associativity of the set."""
        return self._ways

    def touch(self, way):
        """Record an access (hit or fill) to ``way``."""
        raise NotImplementedError

    def victim(self):
        """Return the way to replace when every way of the set is valid."""
        raise NotImplementedError


class TreePLRU(ReplacementPolicy):
    """Choose victims by tree pseudo-LRU with ``ways - 1`` bits per set.

    Bit convention (the RTL must match it bit for bit):

    * The bits are the internal nodes of a complete binary tree stored in heap order: bit 0
      is the root and bit ``i`` has children ``2*i + 1`` (left) and ``2*i + 2`` (right).
      Nodes ``ways - 1 .. 2*ways - 2`` are the leaves, way 0 to way ``ways - 1`` from left
      to right, so the path from the root to way ``w`` follows the bits of ``w`` from its
      most significant bit: 0 goes left, 1 goes right.
    * Bit value 0 means "the victim is in the left subtree", 1 "in the right subtree".
      :meth:`victim` starts at the root and follows the bits down to a leaf.
    * :meth:`touch` sets each bit on the path to the accessed way to point to the other
      half than the one accessed: 1 where the path goes left, 0 where it goes right. Bits
      off the path keep their values.
    * Reset state: all bits 0 (victim = way 0). :attr:`bits` packs bit ``i`` of the tree
      into bit ``i`` of an integer.

    Worked example, 4 ways (bit 0 = root, bit 1 over ways 0-1, bit 2 over ways 2-3), from
    ``0b000``: touch 0 gives ``0b011`` (victim 2); touch 2 gives ``0b110`` (victim 1);
    touch 1 gives ``0b101`` (victim 3); touch 3 gives ``0b000`` (victim 0).

    Parameters
    ----------
    ways : int
        Associativity of the set; a power of two.
    """

    def __init__(self, ways):
        super().__init__(ways)
        self._levels = _log2(ways)
        self._bits = 0

    @property
    def bits(self):
        """Tree bits packed into an integer, tree bit ``i`` at bit ``i``."""
        return self._bits

    def touch(self, way):
        """Point every bit on the path to ``way`` away from it."""
        node = 0
        for level in reversed(range(self._levels)):
            goes_right = (way >> level) & 1
            if goes_right:
                self._bits &= ~(1 << node)
            else:
                self._bits |= 1 << node
            node = 2 * node + 1 + goes_right

    def victim(self):
        """Follow the tree bits from the root to a way."""
        node = 0
        while node < self._ways - 1:
            node = 2 * node + 1 + ((self._bits >> node) & 1)
        return node - (self._ways - 1)


class TrueLRU(ReplacementPolicy):
    """Choose the least recently used way of the set.

    The state is the order of the ways from least to most recently used; at reset it is
    ``0, 1, ..., ways - 1``.

    Parameters
    ----------
    ways : int
        Associativity of the set; a power of two.
    """

    def __init__(self, ways):
        super().__init__(ways)
        self._order = list(range(ways))

    @property
    def order(self):
        """Ways from least to most recently used."""
        return tuple(self._order)

    def touch(self, way):
        """Make ``way`` the most recently used."""
        self._order.remove(way)
        self._order.append(way)

    def victim(self):
        """Return the least recently used way."""
        return self._order[0]


class RandomReplacement(ReplacementPolicy):
    """Choose victims from an LFSR shared by all sets of a slice.

    Each call of :meth:`victim` (one replacement decision) steps the LFSR once and returns
    the low ``log2(ways)`` bits of the new state. Accesses do not change the state.

    Parameters
    ----------
    ways : int
        Associativity of the set; a power of two.
    lfsr : GaloisLFSR16
        The slice's LFSR.
    """

    def __init__(self, ways, lfsr):
        super().__init__(ways)
        self._lfsr = lfsr

    def touch(self, way):
        """Ignore an access: random replacement keeps no per-set state."""

    def victim(self):
        """Step the LFSR and return its low bits."""
        return self._lfsr.step() & (self._ways - 1)


class Op(enum.Enum):
    """Request operations of the cache slice's core side."""

    READ = "read"
    WRITE = "write"
    FLUSH_LINE = "flush_line"
    INVALIDATE_LINE = "invalidate_line"
    FLUSH_ALL = "flush_all"
    INVALIDATE_ALL = "invalidate_all"


@dataclass(frozen=True, eq=False)
class Result:
    """Describe what one request did.

    Attributes
    ----------
    op : Op
        The operation.
    req_id : object
        The request's ID, passed through unchanged.
    data : numpy.ndarray or None
        Read data (``uint8``) for READ, else ``None``.
    hit : bool or None
        Hit or miss for READ and WRITE, ``None`` for flush and invalidate operations.
    writebacks : list of (int, numpy.ndarray)
        Line address and data of every line written to memory by this request, in order.
    way : int or None
        Way accessed by READ or WRITE, else ``None``.
    evicted : int or None
        Line address of the valid line displaced by this request's fill, else ``None``.
    """

    op: Op
    req_id: object = None
    data: np.ndarray | None = None
    hit: bool | None = None
    writebacks: list = field(default_factory=list)
    way: int | None = None
    evicted: int | None = None


class LineState(NamedTuple):
    """Contents of one way as seen by :meth:`CacheModel.lines`.

    ``tag`` and ``data`` of an invalid way are stale and carry no meaning.
    """

    tag: int
    valid: bool
    dirty: bool
    data: np.ndarray


class CacheModel:
    """Model one cache slice in front of a flat memory image.

    Parameters
    ----------
    cfg : CacheModelConfig
        Geometry and replacement policy.
    memory : numpy.ndarray
        One-dimensional ``uint8`` array, one element per byte from address 0; its length a
        multiple of ``cfg.line_bytes`` and at most ``2**cfg.addr_width``. It is not copied:
        fills read it and write-backs update it in place.

    Notes
    -----
    The behaviour is specified in the module docstring. Invalid arguments raise before any
    state changes.
    """

    def __init__(self, cfg, memory):
        if not isinstance(cfg, CacheModelConfig):
            raise TypeError(f"cfg must be a CacheModelConfig, not {cfg!r}")
        if not isinstance(memory, np.ndarray) or memory.dtype != np.uint8 or memory.ndim != 1:
            raise TypeError("memory must be a one-dimensional numpy array of uint8")
        if len(memory) == 0 or len(memory) % cfg.line_bytes or len(memory) > 1 << cfg.addr_width:
            raise ValueError(
                f"memory must hold a nonzero multiple of line_bytes = {cfg.line_bytes} and at "
                f"most 2**addr_width bytes, not {len(memory)}"
            )
        self._cfg = cfg
        self._memory = memory
        sets, ways = cfg.sets, cfg.ways
        self._tag = [[0] * ways for _ in range(sets)]
        self._valid = [[False] * ways for _ in range(sets)]
        self._dirty = [[False] * ways for _ in range(sets)]
        self._way_of_tag = [{} for _ in range(sets)]
        self._data = np.zeros((sets, ways, cfg.line_bytes), dtype=np.uint8)
        self._lfsr = GaloisLFSR16(cfg.seed) if cfg.policy == "random" else None
        if cfg.policy == "plru":
            self._replacement = [TreePLRU(ways) for _ in range(sets)]
        elif cfg.policy == "lru":
            self._replacement = [TrueLRU(ways) for _ in range(sets)]
        else:
            self._replacement = [RandomReplacement(ways, self._lfsr) for _ in range(sets)]
        self._counters = dict(hits=0, misses=0, evictions=0, writebacks=0)
        self._writeback_log = None
        self._last_way = None
        self._last_evicted = None

    @property
    def cfg(self):
        """The slice configuration."""
        return self._cfg

    @property
    def memory(self):
        """The memory image (the array given to the constructor)."""
        return self._memory

    @property
    def counters(self):
        """Copy of the counters: ``hits``, ``misses``, ``evictions``, ``writebacks``."""
        return dict(self._counters)

    @property
    def lfsr(self):
        """The slice's LFSR for the random policy, else ``None``."""
        return self._lfsr

    def replacement(self, index):
        """Return the replacement policy object of set ``index``."""
        return self._replacement[index]

    # -- validation ------------------------------------------------------------------------

    def _check_addr(self, addr):
        if not isinstance(addr, (int, np.integer)) or isinstance(addr, bool):
            raise TypeError(f"addr must be an integer, not {addr!r}")
        addr = int(addr)
        if not 0 <= addr < len(self._memory):
            raise ValueError(f"addr must be within the memory image, not {addr:#x}")
        return addr

    def _check_access(self, addr, size):
        addr = self._check_addr(addr)
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
            raise TypeError(f"size must be an integer, not {size!r}")
        size = int(size)
        offset = self._cfg.offset(addr)
        if not 1 <= size <= self._cfg.line_bytes - offset:
            raise ValueError(
                f"size must be between 1 and {self._cfg.line_bytes - offset} so that the "
                f"access at {addr:#x} stays within one line, not {size!r}"
            )
        return addr, size

    @staticmethod
    def _as_enable(byte_enable, size):
        if byte_enable is None:
            return np.ones(size, dtype=bool)
        if isinstance(byte_enable, (int, np.integer)) and not isinstance(byte_enable, bool):
            mask = int(byte_enable)
            if not 0 <= mask < 1 << size:
                raise ValueError(f"byte_enable must be a {size}-bit mask, not {mask:#x}")
            return np.array([(mask >> i) & 1 for i in range(size)], dtype=bool)
        enable = np.asarray(byte_enable)
        if enable.dtype != bool or enable.shape != (size,):
            raise ValueError(
                f"byte_enable must be an integer mask or a bool array of shape ({size},), "
                f"not {byte_enable!r}"
            )
        return enable

    # -- line operations -------------------------------------------------------------------

    def _line_addr_of(self, index, way):
        return self._cfg.join(self._tag[index][way], index)

    def _write_back(self, index, way):
        line_addr = self._line_addr_of(index, way)
        line = self._data[index, way]
        self._memory[line_addr : line_addr + self._cfg.line_bytes] = line
        self._dirty[index][way] = False
        self._counters["writebacks"] += 1
        if self._writeback_log is not None:  # only collected inside request()
            self._writeback_log.append((line_addr, line.copy()))

    def _invalidate(self, index, way):
        del self._way_of_tag[index][self._tag[index][way]]
        self._valid[index][way] = False
        self._dirty[index][way] = False

    def _allocate(self, index, tag):
        valid = self._valid[index]
        if all(valid):
            way = self._replacement[index].victim()
            self._last_evicted = self._line_addr_of(index, way)
            self._counters["evictions"] += 1
            if self._dirty[index][way]:
                self._write_back(index, way)
            self._invalidate(index, way)
        else:
            way = valid.index(False)
        line_addr = self._cfg.join(tag, index)
        self._data[index, way] = self._memory[line_addr : line_addr + self._cfg.line_bytes]
        self._tag[index][way] = tag
        self._valid[index][way] = True
        self._dirty[index][way] = False
        self._way_of_tag[index][tag] = way
        return way

    def _access(self, addr):
        tag, index, offset = self._cfg.split(addr)
        way = self._way_of_tag[index].get(tag)
        hit = way is not None
        if hit:
            self._counters["hits"] += 1
        else:
            self._counters["misses"] += 1
            way = self._allocate(index, tag)
        self._replacement[index].touch(way)
        return index, way, offset, hit

    def _find(self, addr):
        tag, index, _ = self._cfg.split(addr)
        return index, self._way_of_tag[index].get(tag)

    # -- public requests -------------------------------------------------------------------

    def read(self, addr, size):
        """Read ``size`` bytes at ``addr``.

        Parameters
        ----------
        addr : int
            Byte address.
        size : int
            Number of bytes; the access must stay within one line.

        Returns
        -------
        data : numpy.ndarray
            The bytes read (``uint8``, a copy).
        hit : bool
            Whether the line was present.
        """
        addr, size = self._check_access(addr, size)
        index, way, offset, hit = self._access(addr)
        self._last_way = way
        return self._data[index, way, offset : offset + size].copy(), hit

    def write(self, addr, data, byte_enable=None):
        """Write the enabled bytes of ``data`` at ``addr``.

        Parameters
        ----------
        addr : int
            Byte address of ``data[0]``.
        data : array_like of uint8
            Bytes to write; the access must stay within one line.
        byte_enable : int or array_like of bool, optional
            Bit ``i`` of an integer mask, or element ``i`` of a bool array, enables
            ``data[i]``. ``None`` (the default) enables every byte.

        Returns
        -------
        bool
            Whether the line was present.
        """
        if isinstance(data, (bytes, bytearray)):
            data = np.frombuffer(data, dtype=np.uint8)
        data = np.asarray(data)
        if data.ndim != 1 or not np.issubdtype(data.dtype, np.integer):
            raise TypeError(f"data must be a one-dimensional array of bytes, not {data!r}")
        if data.size and (data.min() < 0 or data.max() > 0xFF):
            raise ValueError("data must hold byte values 0..255")
        data = data.astype(np.uint8)
        addr, size = self._check_access(addr, len(data))
        enable = self._as_enable(byte_enable, size)
        index, way, offset, hit = self._access(addr)
        self._last_way = way
        line = self._data[index, way, offset : offset + size]
        line[enable] = data[enable]
        self._dirty[index][way] = True
        return hit

    def flush_line(self, addr):
        """Write back the line holding ``addr`` if it is dirty; keep it valid and clean.

        Returns
        -------
        bool
            Whether the line was present.
        """
        index, way = self._find(self._check_addr(addr))
        if way is None:
            return False
        if self._dirty[index][way]:
            self._write_back(index, way)
        return True

    def invalidate_line(self, addr):
        """Drop the line holding ``addr``, discarding dirty data without a write-back.

        Returns
        -------
        bool
            Whether the line was present.
        """
        index, way = self._find(self._check_addr(addr))
        if way is None:
            return False
        self._invalidate(index, way)
        return True

    def flush_all(self):
        """Write back every dirty line, in set order then way order; keep lines valid."""
        for index in range(self._cfg.sets):
            for way in range(self._cfg.ways):
                if self._valid[index][way] and self._dirty[index][way]:
                    self._write_back(index, way)

    def invalidate_all(self):
        """Drop every line, discarding all dirty data."""
        for index in range(self._cfg.sets):
            for way in range(self._cfg.ways):
                if self._valid[index][way]:
                    self._invalidate(index, way)

    def request(self, op, addr=0, *, size=None, data=None, byte_enable=None, req_id=None):
        """Process one request of a trace and describe its outcome.

        Parameters
        ----------
        op : Op
            The operation.
        addr : int
            Byte address; ignored by ``FLUSH_ALL`` and ``INVALIDATE_ALL``.
        size : int, optional
            Bytes to read; required by ``READ`` and only allowed there.
        data : array_like of uint8, optional
            Bytes to write; required by ``WRITE`` and only allowed there.
        byte_enable : int or array_like of bool, optional
            Byte enables of ``WRITE`` (see :meth:`write`).
        req_id : object, optional
            Request ID, copied into the result.

        Returns
        -------
        Result
        """
        if not isinstance(op, Op):
            raise TypeError(f"op must be an Op, not {op!r}")
        if (size is not None) != (op is Op.READ):
            raise ValueError(f"size must be given for READ and only for READ, not for {op.name}")
        if (data is not None) != (op is Op.WRITE):
            raise ValueError(f"data must be given for WRITE and only for WRITE, not for {op.name}")
        if byte_enable is not None and op is not Op.WRITE:
            raise ValueError(f"byte_enable is only allowed for WRITE, not for {op.name}")
        self._writeback_log = []
        self._last_evicted = None
        result = dict(op=op, req_id=req_id)
        try:
            self._dispatch(op, addr, size, data, byte_enable, result)
        finally:
            writebacks, self._writeback_log = self._writeback_log, None
        result["writebacks"] = writebacks
        return Result(**result)

    def _dispatch(self, op, addr, size, data, byte_enable, result):
        if op is Op.READ:
            result["data"], result["hit"] = self.read(addr, size)
        elif op is Op.WRITE:
            result["hit"] = self.write(addr, data, byte_enable)
        elif op is Op.FLUSH_LINE:
            self.flush_line(addr)
        elif op is Op.INVALIDATE_LINE:
            self.invalidate_line(addr)
        elif op is Op.FLUSH_ALL:
            self.flush_all()
        else:
            self.invalidate_all()
        if op in (Op.READ, Op.WRITE):
            result["way"] = self._last_way
            result["evicted"] = self._last_evicted

    # -- inspection ------------------------------------------------------------------------

    def probe(self, addr):
        """Return whether the line holding ``addr`` is present, changing no state."""
        return self._find(self._check_addr(addr))[1] is not None

    def lines(self, *, valid_only=False):
        """Return the contents of the ways.

        Parameters
        ----------
        valid_only : bool
            Leave out invalid ways.

        Returns
        -------
        dict of (int, int) to LineState
            ``(set, way)`` to tag, valid, dirty and a copy of the data.
        """
        contents = {}
        for index in range(self._cfg.sets):
            for way in range(self._cfg.ways):
                valid = self._valid[index][way]
                if valid or not valid_only:
                    contents[(index, way)] = LineState(
                        tag=self._tag[index][way],
                        valid=valid,
                        dirty=self._dirty[index][way],
                        data=self._data[index, way].copy(),
                    )
        return contents

    def memory_view(self):
        """Return a copy of memory as the cache's clients see it (dirty lines overlaid)."""
        view = self._memory.copy()
        for index in range(self._cfg.sets):
            for way in range(self._cfg.ways):
                if self._valid[index][way] and self._dirty[index][way]:
                    line_addr = self._line_addr_of(index, way)
                    view[line_addr : line_addr + self._cfg.line_bytes] = self._data[index, way]
        return view


class BruteForceLRU:
    """Predict the hits and evictions of a set-associative LRU cache by brute force.

    A reference for :class:`TrueLRU` only: it keeps, for each set, the resident line
    addresses with the time of their last access, and evicts the line with the oldest
    time. Use ``sets=1`` for a fully associative cache.

    Parameters
    ----------
    sets : int
        Number of sets.
    ways : int
        Lines per set.
    line_bytes : int
        Line size in bytes.
    """

    def __init__(self, sets, ways, line_bytes):
        self._sets = sets
        self._ways = ways
        self._line_bytes = line_bytes
        self._last_used = [{} for _ in range(sets)]
        self._time = 0

    def _set_of(self, addr):
        line_addr = addr - addr % self._line_bytes
        return line_addr, self._last_used[(line_addr // self._line_bytes) % self._sets]

    def access(self, addr):
        """Access the line holding ``addr``.

        Returns
        -------
        hit : bool
            Whether the line was resident.
        evicted : int or None
            Line address of the line evicted to make room, if any.
        """
        self._time += 1
        line_addr, resident = self._set_of(addr)
        hit = line_addr in resident
        evicted = None
        if not hit and len(resident) == self._ways:
            evicted = min(resident, key=resident.__getitem__)
            del resident[evicted]
        resident[line_addr] = self._time
        return hit, evicted

    def invalidate(self, addr):
        """Remove the line holding ``addr`` if it is resident."""
        line_addr, resident = self._set_of(addr)
        resident.pop(line_addr, None)
