"""HBM2/HBM2E pseudo-channel timing parameters and geometry.

A *cycle* here is one command clock of the DRAM, ``tCK``, which is also the clock of the
controller that drives it (1:1). HBM moves data on both clock edges, so a burst of
``burst_length`` beats occupies the data bus for ``burst_length // data_rate`` cycles: with
BL4 at DDR that is 2 cycles, and ``tCCD_S = 2`` is the gapless minimum between column
commands. Both presets below have ``tCCD_S == burst_cycles == 2``; construction refuses a
``tCCD_S`` below ``burst_cycles``.

Presets
-------
``HBM2_DRAMSIM3``
    The ``[timing]`` section of DRAMsim3's ``configs/HBM2_8Gb_x128.ini``
    (github.com/umd-memsys/DRAMsim3), ``tCK = 1`` ns, so its numbers are cycles and
    nanoseconds at once. Values not in that file are marked below with where they came from.
``HBM2E_3200``
    3.2 Gb/s per pin, ``tCK = 0.625`` ns, converted with :func:`from_ns` from the
    ``HBM2_2Gbps`` timing preset of Ramulator2's HBM2 model (``src/dram/impl/HBM2.cpp`` in
    github.com/CMU-SAFARI/ramulator2). That preset is written in cycles at ``tCK_ps = 1000``,
    so each count is also its value in nanoseconds; ``tRFC`` comes from the same file's
    nanosecond ``tRFC_TABLE``. The Ramulator2 numbers are about half of DRAMsim3's for the
    row timings (``nRCD = 7`` against ``tRCDRD = 14``): we transcribe them as published and
    do not vouch for them as silicon values.
"""

import math
from dataclasses import dataclass, field, fields
from fractions import Fraction

from ..checks import is_int as _is_int
from ..checks import is_positive_number

__all__ = ["HBMTiming", "HBMGeometry", "from_ns", "HBM2_DRAMSIM3", "HBM2E_3200",
           "REFRESH_POSTPONE_MAX"]

#: JEDEC lets a controller postpone at most 8 all-bank REFRESH commands, so no more than
#: ``9 * tREFI`` may pass between two of them.
REFRESH_POSTPONE_MAX = 8

# Timing fields counted in cycles, in the order of the dataclass.
_CYCLE_FIELDS = (
    "CL", "CWL", "tRCD", "tRP", "tRAS", "tRC", "tCCD_S", "tCCD_L", "tRRD_S", "tRRD_L", "tFAW",
    "tWR", "tWTR_S", "tWTR_L", "tRTP_S", "tRTP_L", "tRFC", "tREFI", "tRFCpb", "tREFIpb",
    "tRREFD",
)
# Fields that are maximum intervals, not minimum delays: converted from ns rounding down.
_INTERVAL_FIELDS = frozenset({"tREFI", "tREFIpb"})


def _is_power_of_two(value):
    return _is_int(value) and value > 0 and value & (value - 1) == 0


@dataclass(frozen=True, kw_only=True)
class HBMTiming:
    """Timing of one HBM pseudo-channel, in command-clock cycles.

    Parameters
    ----------
    name : str
        Preset name, for reports.
    tck_ns : float
        Command clock period in nanoseconds.
    burst_length : int
        Beats per column access (4 in pseudo-channel mode).
    data_rate : int
        Beats per clock cycle (2: DDR).
    CL, CWL : int
        Read latency (RD to first read beat, at least 2) and write latency (WR to first
        write beat).
    tRCD : int
        ACT to RD/WR, same bank.
    tRP : int
        PRE to ACT (or REF), same bank.
    tRAS : int
        ACT to PRE, same bank.
    tRC : int
        ACT to ACT, same bank; at least ``tRAS + tRP``.
    tCCD_S, tCCD_L : int
        RD to RD or WR to WR, different / same bank group.
    tRRD_S, tRRD_L : int
        ACT to ACT of another bank, different / same bank group.
    tFAW : int
        Window in which at most four ACTs may be issued.
    tWR : int
        End of write data to PRE, same bank.
    tWTR_S, tWTR_L : int
        End of write data to RD, different / same bank group.
    tRTP_S, tRTP_L : int
        Read to precharge: ``tRTP_L`` from a RD to a PRE (or PREA) of the same bank,
        ``tRTP_S`` from a RD of any bank to a PREA (all-bank precharge), as Ramulator2's HBM2
        model scopes ``nRTPL`` / ``nRTPS``. A RD does not limit a PRE of another bank.
    tRFC : int
        All-bank REF to any ACT or REF.
    tREFI : int
        Average interval between all-bank REFs.
    tRFCpb : int
        Per-bank REF to ACT or REF of that bank.
    tREFIpb : int
        Average interval between per-bank REFs (a scheduling figure for the controller).
    tRREFD : int
        Per-bank REF to a per-bank REF or ACT of another bank.
    source : str
        Where the numbers come from.

    Raises
    ------
    ValueError
        If a field is not a positive integer or the fields contradict each other; the message
        names the field and its value.
    """

    name: str
    tck_ns: float
    burst_length: int = 4
    data_rate: int = 2
    CL: int
    CWL: int
    tRCD: int
    tRP: int
    tRAS: int
    tRC: int
    tCCD_S: int
    tCCD_L: int
    tRRD_S: int
    tRRD_L: int
    tFAW: int
    tWR: int
    tWTR_S: int
    tWTR_L: int
    tRTP_S: int
    tRTP_L: int
    tRFC: int
    tREFI: int
    tRFCpb: int
    tREFIpb: int
    tRREFD: int
    source: str = field(default="", compare=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, not {self.name!r}")
        if not is_positive_number(self.tck_ns):
            raise ValueError(f"tck_ns must be a positive number, not {self.tck_ns!r}")
        if not _is_int(self.data_rate) or self.data_rate not in (1, 2):
            raise ValueError(f"data_rate must be 1 (SDR) or 2 (DDR), not {self.data_rate!r}")
        if not _is_power_of_two(self.burst_length) or self.burst_length < self.data_rate:
            raise ValueError(f"burst_length must be a power of two >= data_rate, "
                             f"not {self.burst_length!r}")
        for name in _CYCLE_FIELDS:
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer number of cycles, "
                                 f"not {value!r}")
        self._require("CL", 2, "2 cycles (the controller files a RD a cycle after it issues)")
        self._require("tRC", self.tRAS + self.tRP, "tRAS + tRP")
        self._require("tRAS", self.tRCD, "tRCD")
        self._require("tCCD_S", self.burst_cycles, "the burst (burst_length // data_rate)")
        self._require("tCCD_L", self.tCCD_S, "tCCD_S")
        self._require("tRRD_L", self.tRRD_S, "tRRD_S")
        self._require("tWTR_L", self.tWTR_S, "tWTR_S")
        self._require("tRTP_L", self.tRTP_S, "tRTP_S")
        self._require("tFAW", self.tRRD_S, "tRRD_S")
        self._require("tRFC", self.tRFCpb, "tRFCpb")
        self._require("tREFI", self.tRFC + 1, "tRFC + 1")
        self._require("tREFI", self.tREFIpb, "tREFIpb")
        if self.CWL >= self.CL + self.burst_cycles + 2:
            raise ValueError(f"CWL must be < CL + burst + 2 = {self.CL + self.burst_cycles + 2} "
                             f"(read-to-write turnaround), not {self.CWL!r}")

    def _require(self, name, minimum, what):
        value = getattr(self, name)
        if value < minimum:
            raise ValueError(f"{name} must be >= {what} = {minimum}, not {value!r}")

    @property
    def burst_cycles(self):
        """Cycles one burst occupies the data bus: ``burst_length // data_rate``."""
        return self.burst_length // self.data_rate

    @property
    def read_latency(self):
        """Cycles from RD until its last beat has been received: ``CL + burst_cycles``."""
        return self.CL + self.burst_cycles

    @property
    def write_data_end(self):
        """Cycles from WR until its write data has left the bus: ``CWL + burst_cycles``."""
        return self.CWL + self.burst_cycles

    @property
    def tRTW(self):
        """RD to WR turnaround, any banks: ``CL + burst_cycles + 2 - CWL``.

        The read data occupies the bus from ``RD + CL`` to ``RD + CL + burst_cycles``; the
        write data starts at ``WR + CWL``. Two idle cycles separate them: one to turn the bus
        around and one for the write preamble (``tWPRE = 1``). Ramulator2's HBM2 model uses
        the same expression (``nCL + nBL + 2 - nCWL``, its comment: "Assuming tWPRE = 1 tCK").
        """
        return self.CL + self.burst_cycles + 2 - self.CWL

    @property
    def data_rate_gbps(self):
        """Data rate per pin in Gb/s."""
        return self.data_rate / self.tck_ns

    def peak_bytes_per_cycle(self, geometry):
        """Return the peak data-bus bandwidth of a pseudo-channel in bytes per cycle.

        Parameters
        ----------
        geometry : HBMGeometry
            Its ``burst_length`` must equal this timing's.
        """
        if geometry.burst_length != self.burst_length:
            raise ValueError(f"geometry burst_length {geometry.burst_length!r} differs from "
                             f"timing burst_length {self.burst_length!r}")
        return Fraction(geometry.bytes_per_access, self.burst_cycles)

    def peak_gbytes_per_s(self, geometry):
        """Return the peak bandwidth of a pseudo-channel in GB/s (10**9 bytes per second)."""
        return float(self.peak_bytes_per_cycle(geometry) / Fraction(str(self.tck_ns)))


def from_ns(*, name, tck_ns, burst_length=4, data_rate=2, source="", tRC=None, **ns):
    """Build an :class:`HBMTiming` from values in nanoseconds.

    Minimum delays are rounded up to whole cycles (``ceil(ns / tck_ns)``); the two maximum
    intervals, ``tREFI`` and ``tREFIpb``, are rounded down so that a controller honouring them
    never refreshes late. The division is exact (decimal fractions), so ``3900 / 0.625`` is
    6240, not 6241.

    Parameters
    ----------
    name, tck_ns, burst_length, data_rate, source
        As in :class:`HBMTiming`.
    tRC : float, optional
        ACT to ACT in ns. If omitted, ``tRAS + tRP`` in cycles (after rounding), which is
        also the right choice when rounding the three separately would break ``tRC >= tRAS +
        tRP``.
    **ns : float
        Every other cycle field of :class:`HBMTiming`, in nanoseconds.

    Returns
    -------
    HBMTiming
    """
    expected = set(_CYCLE_FIELDS) - {"tRC"}
    missing = sorted(expected - ns.keys())
    unknown = sorted(ns.keys() - expected)
    if missing:
        raise ValueError(f"from_ns needs {', '.join(missing)}")
    if unknown:
        raise ValueError(f"from_ns does not know {', '.join(unknown)}")
    if not is_positive_number(tck_ns):
        raise ValueError(f"tck_ns must be a positive number, not {tck_ns!r}")
    period = Fraction(str(tck_ns))
    cycles = {}
    for key, value in ns.items():
        if not is_positive_number(value):
            raise ValueError(f"{key} must be a positive number of ns, not {value!r}")
        ratio = Fraction(str(value)) / period
        cycles[key] = math.floor(ratio) if key in _INTERVAL_FIELDS else math.ceil(ratio)
    if tRC is None:
        cycles["tRC"] = cycles["tRAS"] + cycles["tRP"]
    else:
        cycles["tRC"] = math.ceil(Fraction(str(tRC)) / period)
    return HBMTiming(name=name, tck_ns=tck_ns, burst_length=burst_length, data_rate=data_rate,
                     source=source, **cycles)


@dataclass(frozen=True, kw_only=True)
class HBMGeometry:
    """Organisation of one HBM pseudo-channel.

    Banks are numbered ``0 .. banks - 1``; bank ``b`` is in bank group
    ``b // banks_per_group``. A column address selects one burst (``bytes_per_access``
    bytes), so a row holds ``columns * bytes_per_access`` bytes.

    Parameters
    ----------
    banks : int
        Banks per pseudo-channel (16 in HBM2/HBM2E).
    bank_groups : int
        Bank groups (4); must divide ``banks``.
    rows : int
        Rows per bank, a power of two. The default, 16384 rows of 1 KiB, is 2 Gb per
        pseudo-channel (an 8 Gb HBM2 die).
    columns : int
        Burst-sized columns per row, a power of two.
    bus_width : int
        Data bus width in bits (64 for a pseudo-channel).
    burst_length : int
        Beats per access (4).

    Raises
    ------
    ValueError
        Naming the field and its value, if a field is not a positive power of two or
        ``bank_groups`` does not divide ``banks``.
    """

    banks: int = 16
    bank_groups: int = 4
    rows: int = 1 << 14
    columns: int = 32
    bus_width: int = 64
    burst_length: int = 4

    def __post_init__(self):
        for item in fields(self):
            value = getattr(self, item.name)
            if not _is_power_of_two(value):
                raise ValueError(f"{item.name} must be a positive power of two, not {value!r}")
        if self.bank_groups > self.banks:
            raise ValueError(f"bank_groups must divide banks = {self.banks}, "
                             f"not {self.bank_groups!r}")
        if self.bus_width < 8:
            raise ValueError(f"bus_width must be a whole number of bytes, not {self.bus_width!r}")

    @property
    def banks_per_group(self):
        """Banks in each bank group."""
        return self.banks // self.bank_groups

    @property
    def bytes_per_access(self):
        """Bytes moved by one RD or WR: ``bus_width // 8 * burst_length`` (32 for HBM2)."""
        return self.bus_width // 8 * self.burst_length

    @property
    def row_bytes(self):
        """Bytes in one row (the page size)."""
        return self.columns * self.bytes_per_access

    @property
    def capacity_bytes(self):
        """Bytes in the pseudo-channel."""
        return self.banks * self.rows * self.row_bytes

    def bank_group(self, bank):
        """Return the bank group of ``bank``."""
        return bank // self.banks_per_group


# DRAMsim3, configs/HBM2_8Gb_x128.ini, [timing], tCK = 1 (ns). The ini gives tRCDRD and
# tRCDWR (both 14) where we keep one tRCD. DRAMsim3's own parser reads neither tRCDRD/WR
# (GDDR only) nor tRTP_S/L for this protocol; we take the ini's numbers regardless.
HBM2_DRAMSIM3 = HBMTiming(
    name="HBM2_DRAMsim3",
    tck_ns=1.0,
    burst_length=4,     # ini: BL = 4
    data_rate=2,
    CL=14,              # ini: CL = 14
    CWL=4,              # ini: CWL = 4
    tRCD=14,            # ini: tRCDRD = 14, tRCDWR = 14
    tRP=14,             # ini: tRP = 14
    tRAS=34,            # ini: tRAS = 34
    tRC=48,             # not in ini; DRAMsim3 derives tRC = tRAS + tRP = 48
    tCCD_S=2,           # ini: tCCD_S = 1, below the 2-cycle BL4 burst; DRAMsim3 itself uses
                        # max(burst_cycle, tCCD_S) = 2, and so do we
    tCCD_L=2,           # ini: tCCD_L = 2
    tRRD_S=4,           # ini: tRRD_S = 4
    tRRD_L=6,           # ini: tRRD_L = 6
    tFAW=30,            # ini: tFAW = 30
    tWR=16,             # ini: tWR = 16
    tWTR_S=6,           # ini: tWTR_S = 6
    tWTR_L=8,           # ini: tWTR_L = 8
    tRTP_S=4,           # ini: tRTP_S = 4
    tRTP_L=6,           # ini: tRTP_L = 6
    tRFC=260,           # ini: tRFC = 260
    tREFI=3900,         # ini: tREFI = 3900
    tRFCpb=160,         # not in ini (DRAMsim3 falls back to a generic tRFCb = 20); taken from
                        # Ramulator2 HBM2 nRFCSB = 160 at tCK 1 ns, i.e. 160 ns
    tREFIpb=128,        # ini: tREFIb = 128
    tRREFD=8,           # not in ini; Ramulator2 HBM2 nRREFD = 8 at tCK 1 ns, i.e. 8 ns
    source="DRAMsim3 configs/HBM2_8Gb_x128.ini (tCK 1 ns); tRFCpb, tRREFD from Ramulator2 "
           "HBM2.cpp; tRC = tRAS + tRP; tCCD_S raised from 1 to the 2-cycle burst",
)

# Ramulator2 src/dram/impl/HBM2.cpp, timing preset "HBM2_2Gbps" (rate 2000, tCK_ps 1000):
#   nBL 4, nCL 7, nRCDRD 7, nRCDWR 7, nRP 7, nRAS 17, nRC 19, nWR 8, nRTPS 2, nRTPL 3, nCWL 2,
#   nCCDS 1, nCCDL 2, nRRDS 2, nRRDL 3, nWTRS 3, nWTRL 4, nRTW 3, nFAW 15, nRFC -1 (from the
#   table), nRFCSB 160, nREFI 3900, nREFISB -1, nRREFD 8.
# At tCK = 1 ns these counts are nanoseconds; converted to tCK = 0.625 ns with from_ns:
HBM2E_3200 = from_ns(
    name="HBM2E_3200",
    tck_ns=0.625,
    burst_length=4,
    data_rate=2,
    CL=7,               # nCL 7 -> 12
    CWL=2,              # nCWL 2 -> 4
    tRCD=7,             # nRCDRD = nRCDWR = 7 -> 12
    tRP=7,              # nRP 7 -> 12
    tRAS=17,            # nRAS 17 -> 28
    tRC=None,           # nRC 19 is below nRAS + nRP = 24 in Ramulator2 itself; we use
                        # tRAS + tRP = 40 cycles instead of ceil(19 / 0.625) = 31
    tCCD_S=1,           # nCCDS 1 -> 2, equal to the 2-cycle BL4 burst
    tCCD_L=2,           # nCCDL 2 -> 4
    tRRD_S=2,           # nRRDS 2 -> 4
    tRRD_L=3,           # nRRDL 3 -> 5
    tFAW=15,            # nFAW 15 -> 24
    tWR=8,              # nWR 8 -> 13
    tWTR_S=3,           # nWTRS 3 -> 5
    tWTR_L=4,           # nWTRL 4 -> 7
    tRTP_S=2,           # nRTPS 2 -> 4
    tRTP_L=3,           # nRTPL 3 -> 5
    tRFC=450,           # tRFC_TABLE (ns): 2Gb 160, 4Gb 260, 8Gb 350, 16Gb 450; a 16 GB
                        # HBM2E stack has 16 Gb per channel -> 720
    tREFI=3900,         # nREFI 3900 -> 6240 (rounded down: a maximum interval)
    tRFCpb=160,         # nRFCSB 160 -> 256
    tREFIpb=243.75,     # not usable in Ramulator2 (nREFISB -1, then overwritten from the
                        # tRFC table); derived as tREFI / 16 banks = 243.75 ns -> 390
    tRREFD=8,           # nRREFD 8 -> 13
    source="Ramulator2 src/dram/impl/HBM2.cpp preset HBM2_2Gbps (counts at tCK 1 ns read as "
           "ns) converted to tCK 0.625 ns; tRFC 16Gb entry of its tRFC_TABLE; tRC = tRAS + "
           "tRP; tREFIpb = tREFI / 16",
)
