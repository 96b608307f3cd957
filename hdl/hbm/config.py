"""Configuration of the HBM pseudo-channel controller and its named presets.

Address mapping
---------------
A request's byte address is split, above the ``log2(line_bytes)`` offset bits, into the fields
named by ``address_map``, least significant first:

``bank_group``
    ``log2(bank_groups)`` bits.
``bank``
    The bank within its group, ``log2(banks // bank_groups)`` bits.
``column``
    The line within the row, ``log2(columns // bursts_per_line)`` bits. A line's bursts are
    consecutive columns of one row of one bank.
``row``
    ``log2(rows)`` bits.

The default, ``("bank_group", "column", "bank", "row")``, sends consecutive lines to the four
bank groups in turn (so column commands of a sequential stream are ``tCCD_S`` apart), fills a
row of one bank in each group before moving on, and touches a new set of four banks only every
``4 * columns / bursts_per_line`` lines: sequential streams need few activates and never run
into ``tFAW``.
"""

from dataclasses import dataclass, field
from fractions import Fraction

from amaranth.utils import exact_log2

from ..checks import is_int as _is_int
from .timing import HBM2_DRAMSIM3, HBM2E_3200, REFRESH_POSTPONE_MAX, HBMGeometry, HBMTiming

__all__ = ["HBMControllerConfig", "ADDRESS_FIELDS", "SCHEDULERS", "PAGE_POLICIES",
           "REFRESH_MODES", "controller_config"]

ADDRESS_FIELDS = ("bank_group", "bank", "column", "row")
SCHEDULERS = ("frfcfs", "fcfs")
PAGE_POLICIES = ("open", "closed")
REFRESH_MODES = ("all_bank", "per_bank")


def _is_power_of_two(value):
    return _is_int(value) and value > 0 and value & (value - 1) == 0


@dataclass(frozen=True, kw_only=True)
class HBMControllerConfig:
    """Parameters of one pseudo-channel controller.

    Parameters
    ----------
    timing : HBMTiming
        DRAM timing in controller cycles (the controller runs at ``tCK``).
    geometry : HBMGeometry
        Banks, bank groups, rows and columns of the pseudo-channel.
    line_bytes : int
        Bytes per request: a power of two, a multiple of the 32-byte access, at most a row.
    id_width : int
        Width of the transaction ID (1..16).
    queue_depth : int
        Entries of the request queue the scheduler picks from (2..64, not necessarily a
        power of two; the controller keeps ``2 * queue_depth`` line buffers).
    scheduler : str
        ``"frfcfs"`` (row hits first, then oldest first, with write batching and a starvation
        cap) or ``"fcfs"`` (strictly in order: only the oldest request issues commands).
    page_policy : str
        ``"open"`` (rows stay open until a request needs another row of the bank) or
        ``"closed"`` (a row is closed as soon as no queued request hits it).
    starvation_cap : int
        Cycles the oldest request may wait before the scheduler serves it alone (16..65535).
    write_high, write_low : int
        Write-batching watermarks: the scheduler turns to writes when at least ``write_high``
        writes are queued (or no reads are), and back to reads when at most ``write_low`` are
        left (or none). ``0 <= write_low < write_high <= queue_depth``.
    refresh : str
        ``"all_bank"``: a REF owed every ``tREFI``, paid with PREA + REF (``tRFC``).
        ``"per_bank"``: a REFPB owed every ``tREFIpb``, to the banks in turn (0, 1, .., 0),
        each blocking only its bank for ``tRFCpb``; a bank is refreshed when no queued
        request needs it, or at once when ``refresh_postpone`` are owed.
    refresh_postpone : int
        Refreshes that may be owed before one is forced (1..8, JEDEC allows 8 all-bank
        refreshes). All-bank: owed refreshes are also paid whenever the queue is empty, and
        once started all owed refreshes are paid back to back.
    auto_precharge : bool
        Close a row with its last column command (RDA/WRA) when no other queued request hits
        it, instead of leaving it open for a later PRE. It saves the PRE, and the wait for a
        PRE slot, when a stream leaves a row for good; it costs an ACT when a hit to the row
        arrives only after the row was closed (an unloaded read never finds its row open).
    address_map : tuple of str
        Order of the address fields above the line offset, least significant first: a
        permutation of ``ADDRESS_FIELDS``.

    Raises
    ------
    TypeError, ValueError
        Naming the parameter and the allowed values.
    """

    timing: HBMTiming = HBM2_DRAMSIM3
    geometry: HBMGeometry = field(default_factory=HBMGeometry)
    line_bytes: int = 64
    id_width: int = 8
    queue_depth: int = 16
    scheduler: str = "frfcfs"
    page_policy: str = "open"
    starvation_cap: int = 1024
    write_high: int = None
    write_low: int = None
    refresh: str = "all_bank"
    refresh_postpone: int = REFRESH_POSTPONE_MAX
    auto_precharge: bool = False
    address_map: tuple = ("bank_group", "column", "bank", "row")

    def __post_init__(self):
        if not isinstance(self.timing, HBMTiming):
            raise TypeError(f"timing must be an HBMTiming, not {self.timing!r}")
        if not isinstance(self.geometry, HBMGeometry):
            raise TypeError(f"geometry must be an HBMGeometry, not {self.geometry!r}")
        if self.geometry.burst_length != self.timing.burst_length:
            raise ValueError(f"geometry burst_length {self.geometry.burst_length!r} differs "
                             f"from timing burst_length {self.timing.burst_length!r}")
        access = self.geometry.bytes_per_access
        if (not _is_power_of_two(self.line_bytes) or self.line_bytes < access
                or self.line_bytes > self.geometry.row_bytes):
            raise ValueError(f"line_bytes must be a power of two from {access} to "
                             f"{self.geometry.row_bytes}, not {self.line_bytes!r}")
        if not _is_int(self.id_width) or not 1 <= self.id_width <= 16:
            raise ValueError(f"id_width must be an integer from 1 to 16, not {self.id_width!r}")
        if not _is_int(self.queue_depth) or not 2 <= self.queue_depth <= 64:
            raise ValueError(f"queue_depth must be an integer from 2 to 64, "
                             f"not {self.queue_depth!r}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {', '.join(SCHEDULERS)}, "
                             f"not {self.scheduler!r}")
        if self.page_policy not in PAGE_POLICIES:
            raise ValueError(f"page_policy must be one of {', '.join(PAGE_POLICIES)}, "
                             f"not {self.page_policy!r}")
        if not _is_int(self.starvation_cap) or not 16 <= self.starvation_cap <= 65535:
            raise ValueError(f"starvation_cap must be an integer from 16 to 65535, "
                             f"not {self.starvation_cap!r}")
        if self.write_high is None:
            object.__setattr__(self, "write_high", max(1, self.queue_depth * 3 // 4))
        if self.write_low is None:
            object.__setattr__(self, "write_low", self.queue_depth // 4)
        for name in ("write_high", "write_low"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value <= self.queue_depth:
                raise ValueError(f"{name} must be an integer from 0 to queue_depth = "
                                 f"{self.queue_depth}, not {value!r}")
        if self.write_low >= self.write_high:
            raise ValueError(f"write_low must be below write_high = {self.write_high}, "
                             f"not {self.write_low!r}")
        if self.refresh not in REFRESH_MODES:
            raise ValueError(f"refresh must be one of {', '.join(REFRESH_MODES)}, "
                             f"not {self.refresh!r}")
        if (not _is_int(self.refresh_postpone)
                or not 1 <= self.refresh_postpone <= REFRESH_POSTPONE_MAX):
            raise ValueError(f"refresh_postpone must be an integer from 1 to "
                             f"{REFRESH_POSTPONE_MAX}, not {self.refresh_postpone!r}")
        if not isinstance(self.auto_precharge, bool):
            raise TypeError(f"auto_precharge must be True or False, "
                            f"not {self.auto_precharge!r}")
        if (not isinstance(self.address_map, tuple)
                or not all(isinstance(name, str) for name in self.address_map)
                or sorted(self.address_map) != sorted(ADDRESS_FIELDS)):
            raise ValueError(f"address_map must be a tuple ordering each of "
                             f"{', '.join(ADDRESS_FIELDS)} once, not {self.address_map!r}")

    # Derived figures ----------------------------------------------------------------------
    @property
    def bursts_per_line(self):
        """Column accesses (bursts) per request."""
        return self.line_bytes // self.geometry.bytes_per_access

    @property
    def slots(self):
        """Line buffers: write data waiting to issue and read data waiting to return."""
        return 2 * self.queue_depth

    def field_widths(self):
        """Return ``{field: bits}`` of the address fields."""
        g = self.geometry
        return {
            "bank_group": exact_log2(g.bank_groups),
            "bank": exact_log2(g.banks_per_group),
            "column": exact_log2(g.columns // self.bursts_per_line),
            "row": exact_log2(g.rows),
        }

    def field_offsets(self):
        """Return ``{field: lowest bit in the byte address}``, following ``address_map``."""
        offset = exact_log2(self.line_bytes)
        widths = self.field_widths()
        offsets = {}
        for name in self.address_map:
            offsets[name] = offset
            offset += widths[name]
        return offsets

    @property
    def addr_width(self):
        """Width of the byte address: ``log2`` of the pseudo-channel's capacity."""
        return exact_log2(self.geometry.capacity_bytes)

    def decode(self, addr):
        """Return ``(bank, row, first column)`` of byte address ``addr`` (a Python int)."""
        widths, offsets = self.field_widths(), self.field_offsets()
        value = {name: (addr >> offsets[name]) & ((1 << widths[name]) - 1) for name in widths}
        bank = value["bank_group"] * self.geometry.banks_per_group + value["bank"]
        return bank, value["row"], value["column"] * self.bursts_per_line

    @property
    def peak_bytes_per_cycle(self):
        """Peak data-bus bandwidth in bytes per cycle."""
        return self.timing.peak_bytes_per_cycle(self.geometry)

    def random_read_bound(self, refresh=None):
        """Return the highest data-bus efficiency random line reads can reach.

        Every random line needs an ACT (its row is almost never open), at most four ACTs
        fit in a ``tFAW`` window, and each brings ``bursts_per_line`` bursts of
        ``burst_cycles`` data cycles: ``4 * bursts_per_line * burst_cycles / tFAW``. The
        ``tRRD_S`` spacing of ACTs (``tRRD_S * 4 <= tFAW`` for both presets) and the data bus
        itself (at most 1) bound it too. All-bank refresh then takes the whole pseudo-channel
        for ``tRFC`` out of every ``tREFI``: times ``1 - tRFC / tREFI``. Per-bank refresh
        blocks one bank at a time and leaves the others to the ACTs, so its bound is the
        ``tFAW`` figure alone.

        Parameters
        ----------
        refresh : str, optional
            ``"all_bank"`` or ``"per_bank"``; this configuration's ``refresh`` if omitted.

        Returns
        -------
        fractions.Fraction
        """
        refresh = self.refresh if refresh is None else refresh
        if refresh not in REFRESH_MODES:
            raise ValueError(f"refresh must be one of {', '.join(REFRESH_MODES)}, "
                             f"not {refresh!r}")
        t = self.timing
        per_act = self.bursts_per_line * t.burst_cycles
        bound = min(Fraction(4 * per_act, t.tFAW), Fraction(per_act, t.tRRD_S), Fraction(1))
        if refresh == "all_bank":
            bound *= 1 - Fraction(t.tRFC, t.tREFI)
        return bound


def controller_config(name="fpga"):
    """Return the controller configuration of the named chip configuration ``name``.

    ``fpga``: DRAMsim3 HBM2 timing on a 64 KiB pseudo-channel (16 banks x 4 rows x 1 KiB)
    that the on-chip memory model holds in block RAM, 8 queue entries. ``br104`` and
    ``br100``: HBM2E 3.2 Gb/s timing, a 2 Gb pseudo-channel (16 banks x 16384 rows x 1 KiB),
    32 queue entries.
    """
    if name == "fpga":
        return HBMControllerConfig(timing=HBM2_DRAMSIM3, geometry=HBMGeometry(rows=4),
                                   queue_depth=8)
    if name in ("br104", "br100"):
        return HBMControllerConfig(timing=HBM2E_3200, geometry=HBMGeometry(), queue_depth=32)
    raise ValueError(f"config must be one of fpga, br104, br100, not {name!r}")
