"""Golden model of one HBM2/HBM2E pseudo-channel that checks every command against JEDEC.

The model stands where the DRAM would: a controller (or a test) issues commands to it with
the cycle they were issued in, and the model either accepts them, moving data in and out of
a ``numpy`` array, or raises :class:`TimingViolation` naming the rule, the earlier command
that set the limit and both cycles. A violating command changes nothing.

Cycles
------
Cycles are command-clock cycles (``tCK``), counted from reset at cycle 0, when every bank is
closed and refresh is up to date. Commands are issued in non-decreasing cycle order. A cycle
carries at most one row command (ACT, PRE, PREA, REF, REFPB) and one column command (RD,
RDA, WR, WRA): HBM has separate row and column command buses. ACT is a two-cycle command, so
the next row command comes two cycles after it at the earliest.

Data
----
* ``RD``/``RDA`` at cycle ``c`` returns ``ReadData(ready_cycle, data)``: the 32 bytes
  (``bytes_per_access``) of the addressed column as they are at cycle ``c``, whose beats are
  on the bus from ``c + CL`` and complete at ``ready_cycle = c + CL + burst_cycles``. The
  same record is queued for :meth:`HBMDeviceModel.pop_read_data`.
* ``WR``/``WRA`` at cycle ``c`` takes ``data`` (``bytes_per_access`` bytes: ``bytes``,
  a ``uint8`` array or a sequence of ints) and ``mask``. ``mask`` follows the JEDEC data
  mask: byte ``i`` is *not* written where it is set (an int whose bit ``i`` masks byte
  ``i``, or a sequence of bools); ``None`` writes every byte. The data reaches the array at
  cycle ``c + CWL``, when it crosses the bus.

Rules
-----
Timing rules (``RULES``, a table of: earlier event, later commands, bank relation, delay):

========  =====================  ======================  ======================================
rule      earlier                later                   distance at least
========  =====================  ======================  ======================================
tRCD      ACT                    RD, RDA, WR, WRA        tRCD, same bank
tRAS      ACT                    PRE, PREA               tRAS, same bank
tRC       ACT                    ACT                     tRC, same bank
tRRD_L    ACT                    ACT, REFPB              tRRD_L, other bank of the same group
tRRD_S    ACT                    ACT, REFPB              tRRD_S, other bank group
tRP       PRE, PREA, RDA/WRA     ACT, REF, REFPB         tRP, same bank (auto-precharge: from
          auto-precharge                                 the internal precharge)
tCCD_L    RD (WR)                RD (WR)                 tCCD_L, same bank group
tCCD_S    RD (WR)                RD (WR)                 tCCD_S, other bank group
tRTW      RD                     WR                      CL + burst + 2 - CWL, any bank
tWTR_L    WR                     RD                      CWL + burst + tWTR_L, same bank group
tWTR_S    WR                     RD                      CWL + burst + tWTR_S, other group
tRTP_L    RD                     PRE, PREA               tRTP_L, same bank
tRTP_S    RD                     PREA                    tRTP_S, any bank (channel-wide)
tWR       WR                     PRE, PREA               CWL + burst + tWR, same bank
tRFC      REF                    ACT, REF, REFPB         tRFC
tRFCpb    REFPB                  ACT, REF, REFPB         tRFCpb, same bank
tRREFD    REFPB                  ACT, REFPB              tRREFD, other bank
========  =====================  ======================  ======================================

"RD" stands for RD and RDA, "WR" for WR and WRA. PREA is checked, for each bank it closes,
as a PRE of that bank, and, whether or not any bank is open, against the channel-wide rule
``tRTP_S``.

Scope of ``tRTP``: read-to-precharge is a per-bank constraint (the precharge may not cut off
the bank's own read): DRAMsim3 (``src/timing.cc``) applies its ``tRTP`` only to a PRE of the
same bank, and Ramulator2's HBM2 model (``src/dram/impl/HBM2.cpp``) applies ``nRTPL`` from a
RD to a PRE of the same bank and ``nRTPS`` from a RD of any bank to a PREA
(pseudo-channel level). We check the same: ``tRTP_L`` RD -> PRE/PREA of the bank read (PREA
through each open bank it closes), ``tRTP_S`` RD (any bank) -> PREA. A PRE of another bank
is not limited by a RD at all. Besides the table: ``tFAW`` (an ACT may not be the fifth in any
``tFAW`` window), ``row bus`` / ``column bus`` (one command per bus per cycle, ACT holding
the row bus two cycles) and ``tREFI`` (below).

Auto-precharge: RDA closes its bank at ``max(RDA + tRTP_L, ACT + tRAS)``, WRA at
``max(WRA + CWL + burst + tWR, ACT + tRAS)``; ``tRP`` runs from there.

Protocol rules: ``bank closed`` (RD/WR to a bank without an open row), ``bank open`` (ACT to
an open bank), ``refresh needs all banks precharged`` (REF with any bank open, REFPB to an
open bank). A PRE to a closed bank is a no-op, as JEDEC allows.

Refresh: each bank owes one refresh per ``tREFI`` elapsed; REF pays one to every bank and
REFPB one to its bank. Refreshes owed at cycle ``c`` are ``(c - 1) // tREFI`` minus those
paid. More than ``REFRESH_POSTPONE_MAX`` (8) outstanding is a ``tREFI`` violation, checked
before every command and by :meth:`HBMDeviceModel.check_refresh`: at most ``9 * tREFI``
cycles pass between two refreshes of a bank. Refreshes issued early (pulled in) are
credited without limit.
"""

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from hdl.hbm.timing import REFRESH_POSTPONE_MAX, HBMGeometry, HBMTiming

__all__ = ["Command", "ReadData", "TimingViolation", "HBMDeviceModel", "RULES"]


class Command(enum.Enum):
    """Commands of an HBM pseudo-channel."""

    ACT = "ACT"
    PRE = "PRE"
    PREA = "PREA"
    RD = "RD"
    RDA = "RDA"
    WR = "WR"
    WRA = "WRA"
    REF = "REF"
    REFPB = "REFPB"


_ROW_COMMANDS = frozenset({Command.ACT, Command.PRE, Command.PREA, Command.REF, Command.REFPB})
_READS = frozenset({Command.RD, Command.RDA})
_WRITES = frozenset({Command.WR, Command.WRA})
_COLUMN_COMMANDS = _READS | _WRITES
_BANK_COMMANDS = _COLUMN_COMMANDS | {Command.ACT, Command.PRE, Command.REFPB}
_PRECHARGES = frozenset({Command.PRE, Command.PREA})


class ReadData(NamedTuple):
    """Data of one read burst and the cycle by which all its beats have arrived."""

    ready_cycle: int
    data: np.ndarray


class TimingViolation(AssertionError):
    """A command broke a JEDEC timing or protocol rule.

    Parameters
    ----------
    rule : str
        Name of the rule (``"tRCD"``, ``"bank closed"``, ...).
    earlier_cmd : str or None
        The earlier command that set the limit, e.g. ``"ACT bank 3"``.
    earlier_cycle : int or None
        Its cycle (for an auto-precharge: the cycle the internal precharge began).
    cmd : str
        The offending command, e.g. ``"RD bank 3"``; ``"refresh check"`` for
        :meth:`HBMDeviceModel.check_refresh`.
    cycle : int
        The cycle of the offending command.
    needs : int, optional
        The distance the rule requires, for timing rules.
    detail : str, optional
        What went wrong, for rules that are not a distance.
    """

    def __init__(self, rule, earlier_cmd, earlier_cycle, cmd, cycle, *, needs=None,
                 detail=None):
        self.rule = rule
        self.earlier_cmd = earlier_cmd
        self.earlier_cycle = earlier_cycle
        self.cmd = cmd
        self.cycle = cycle
        self.needs = needs
        if needs is not None:
            message = (f"{rule} violated: {cmd} at cycle {cycle} only "
                       f"{cycle - earlier_cycle} cycles after {earlier_cmd} at cycle "
                       f"{earlier_cycle} (needs {needs})")
        else:
            message = f"{rule} violated: {cmd} at cycle {cycle}"
            if detail:
                message += f": {detail}"
            if earlier_cmd is not None:
                message += f" (after {earlier_cmd} at cycle {earlier_cycle})"
        super().__init__(message)


class _Event(enum.Enum):
    """What the model remembers, per bank, for the rule table."""

    ACT = "ACT"
    PRE = "PRE"
    RD = "RD"
    WR = "WR"
    REF = "REF"
    REFPB = "REFPB"


class _Relation(enum.Enum):
    """How the bank of the later command must relate to the bank of the earlier one."""

    SAME_BANK = "same bank"
    SAME_GROUP = "same bank group"
    SAME_GROUP_OTHER_BANK = "other bank, same bank group"
    OTHER_GROUP = "other bank group"
    OTHER_BANK = "other bank"
    ANY = "any bank"
    CHANNEL = "any bank, channel-wide command"


@dataclass(frozen=True)
class Rule:
    """One row of the timing-rule table.

    Parameters
    ----------
    name : str
        Rule name, as reported in :class:`TimingViolation`.
    earlier : _Event
        The earlier event the distance is counted from.
    later : frozenset of Command
        Commands the rule constrains.
    relation : _Relation
        Which banks of the earlier event constrain which banks of the later command.
    delay : callable
        ``delay(timing) -> int``: the least distance in cycles.
    """

    name: str
    earlier: _Event
    later: frozenset
    relation: _Relation
    delay: Callable[[HBMTiming], int]


_ACTS = frozenset({Command.ACT})
_REFRESHES = frozenset({Command.REF, Command.REFPB})

RULES = (
    Rule("tRCD", _Event.ACT, _COLUMN_COMMANDS, _Relation.SAME_BANK, lambda t: t.tRCD),
    Rule("tRAS", _Event.ACT, _PRECHARGES, _Relation.SAME_BANK, lambda t: t.tRAS),
    Rule("tRC", _Event.ACT, _ACTS, _Relation.SAME_BANK, lambda t: t.tRC),
    Rule("tRRD_L", _Event.ACT, _ACTS | {Command.REFPB}, _Relation.SAME_GROUP_OTHER_BANK,
         lambda t: t.tRRD_L),
    Rule("tRRD_S", _Event.ACT, _ACTS | {Command.REFPB}, _Relation.OTHER_GROUP,
         lambda t: t.tRRD_S),
    Rule("tRP", _Event.PRE, _ACTS | _REFRESHES, _Relation.SAME_BANK, lambda t: t.tRP),
    Rule("tCCD_L", _Event.RD, _READS, _Relation.SAME_GROUP, lambda t: t.tCCD_L),
    Rule("tCCD_S", _Event.RD, _READS, _Relation.OTHER_GROUP, lambda t: t.tCCD_S),
    Rule("tCCD_L", _Event.WR, _WRITES, _Relation.SAME_GROUP, lambda t: t.tCCD_L),
    Rule("tCCD_S", _Event.WR, _WRITES, _Relation.OTHER_GROUP, lambda t: t.tCCD_S),
    Rule("tRTW", _Event.RD, _WRITES, _Relation.ANY, lambda t: t.tRTW),
    Rule("tWTR_L", _Event.WR, _READS, _Relation.SAME_GROUP,
         lambda t: t.write_data_end + t.tWTR_L),
    Rule("tWTR_S", _Event.WR, _READS, _Relation.OTHER_GROUP,
         lambda t: t.write_data_end + t.tWTR_S),
    Rule("tRTP_L", _Event.RD, _PRECHARGES, _Relation.SAME_BANK, lambda t: t.tRTP_L),
    Rule("tRTP_S", _Event.RD, frozenset({Command.PREA}), _Relation.CHANNEL,
         lambda t: t.tRTP_S),
    Rule("tWR", _Event.WR, _PRECHARGES, _Relation.SAME_BANK,
         lambda t: t.write_data_end + t.tWR),
    Rule("tRFC", _Event.REF, _ACTS | _REFRESHES, _Relation.SAME_BANK, lambda t: t.tRFC),
    Rule("tRFCpb", _Event.REFPB, _ACTS | _REFRESHES, _Relation.SAME_BANK, lambda t: t.tRFCpb),
    Rule("tRREFD", _Event.REFPB, _ACTS | {Command.REFPB}, _Relation.OTHER_BANK,
         lambda t: t.tRREFD),
)


@dataclass(frozen=True)
class _Record:
    """A remembered command: its description and the cycle rules count from."""

    what: str
    cycle: int


class HBMDeviceModel:
    """Model one HBM pseudo-channel and check every command it receives.

    Parameters
    ----------
    timing : HBMTiming
        Timing in cycles.
    geometry : HBMGeometry, optional
        Organisation; the default :class:`HBMGeometry` if omitted. Its ``burst_length``
        must equal the timing's.

    Attributes
    ----------
    memory : numpy.ndarray
        ``uint8`` array of shape ``(banks, rows, columns, bytes_per_access)``.
    acts, precharges, reads, writes, refreshes, refreshes_per_bank : int
        Commands accepted (``precharges`` counts PRE and PREA to open banks, ``reads`` RD and
        RDA, ``writes`` WR and WRA, ``refreshes`` REF, ``refreshes_per_bank`` REFPB).
    data_bus_busy_cycles : int
        ``burst_cycles`` per accepted read or write.
    """

    def __init__(self, timing, geometry=None):
        if not isinstance(timing, HBMTiming):
            raise TypeError(f"timing must be an HBMTiming, not {timing!r}")
        if geometry is None:
            geometry = HBMGeometry()
        if not isinstance(geometry, HBMGeometry):
            raise TypeError(f"geometry must be an HBMGeometry, not {geometry!r}")
        if geometry.burst_length != timing.burst_length:
            raise ValueError(f"geometry burst_length {geometry.burst_length!r} differs from "
                             f"timing burst_length {timing.burst_length!r}")
        self.timing = timing
        self.geometry = geometry
        self.memory = np.zeros((geometry.banks, geometry.rows, geometry.columns,
                                geometry.bytes_per_access), dtype=np.uint8)
        self._rules = {cmd: [(rule, rule.delay(timing)) for rule in RULES if cmd in rule.later]
                       for cmd in Command}
        banks = geometry.banks
        self._last = {event: [None] * banks for event in _Event}
        self._group = [geometry.bank_group(bank) for bank in range(banks)]
        self._open_row = [None] * banks
        self._act_cycle = [None] * banks
        self._faw = []
        self._last_row_cmd = None
        self._last_col_cmd = None
        self._last_cycle = 0
        self._refreshes_paid = [0] * banks
        self._pending_writes = []
        self._read_queue = []
        self.acts = self.precharges = self.reads = self.writes = 0
        self.refreshes = self.refreshes_per_bank = 0
        self.data_bus_busy_cycles = 0

    # -- inspection ----------------------------------------------------------------------

    def open_row(self, bank):
        """Return the open row of ``bank``, or None if it is closed."""
        self._check_bank(bank)
        return self._open_row[bank]

    def peek(self, bank, row, col):
        """Return a copy of one column of the array (writes landed so far only)."""
        self._check_address(bank, row, col)
        return self.memory[bank, row, col].copy()

    def poke(self, bank, row, col, data):
        """Write one column of the array directly, bypassing the command interface."""
        self._check_address(bank, row, col)
        self.memory[bank, row, col] = self._as_burst(data)

    # -- time ----------------------------------------------------------------------------

    def advance(self, cycle):
        """Land every write whose data has crossed the bus by ``cycle``."""
        remaining = []
        for land_cycle, bank, row, col, data, keep in self._pending_writes:
            if land_cycle <= cycle:
                target = self.memory[bank, row, col]
                target[~keep] = data[~keep]
            else:
                remaining.append((land_cycle, bank, row, col, data, keep))
        self._pending_writes = remaining

    def pop_read_data(self, cycle):
        """Return, oldest first, and forget the read bursts complete by ``cycle``."""
        ready = [item for item in self._read_queue if item.ready_cycle <= cycle]
        self._read_queue = [item for item in self._read_queue if item.ready_cycle > cycle]
        return ready

    def refreshes_owed(self, cycle, bank):
        """Return how many refreshes ``bank`` has postponed at ``cycle`` (negative: ahead)."""
        self._check_bank(bank)
        return self._refreshes_due(cycle) - self._refreshes_paid[bank]

    def check_refresh(self, cycle, cmd="refresh check"):
        """Raise :class:`TimingViolation` if a bank has postponed too many refreshes.

        Parameters
        ----------
        cycle : int
            The cycle to check at.
        cmd : str
            Description of the command being issued, for the message.
        """
        due = self._refreshes_due(cycle)
        owed = [due - paid for paid in self._refreshes_paid]
        worst = max(range(len(owed)), key=lambda bank: owed[bank])
        if owed[worst] > REFRESH_POSTPONE_MAX:
            last = self._last[_Event.REF][worst]
            last_pb = self._last[_Event.REFPB][worst]
            if last is None or (last_pb is not None and last_pb.cycle > last.cycle):
                last = last_pb
            earlier, earlier_cycle = ("reset", 0) if last is None else (last.what, last.cycle)
            raise TimingViolation(
                "tREFI", earlier, earlier_cycle, cmd, cycle,
                detail=(f"bank {worst} has {owed[worst]} refreshes outstanding, at most "
                        f"{REFRESH_POSTPONE_MAX} may be postponed (tREFI = "
                        f"{self.timing.tREFI})"))

    def _refreshes_due(self, cycle):
        return max(cycle - 1, 0) // self.timing.tREFI

    # -- commands ------------------------------------------------------------------------

    def issue(self, cycle, cmd, bank=None, row=None, col=None, data=None, mask=None):
        """Check and apply one command.

        Parameters
        ----------
        cycle : int
            Cycle the command is issued in; never earlier than the previous command's.
        cmd : Command
            The command.
        bank : int, optional
            Bank, for ACT, PRE, RD, RDA, WR, WRA and REFPB.
        row : int, optional
            Row, for ACT.
        col : int, optional
            Column, for RD, RDA, WR and WRA.
        data : bytes-like or sequence of int, optional
            Write data, for WR and WRA.
        mask : int or sequence of bool, optional
            JEDEC data mask for WR and WRA: set bits are not written.

        Returns
        -------
        ReadData or None
            The read burst, for RD and RDA.

        Raises
        ------
        TimingViolation
            If the command breaks a rule; the model is then left as it was.
        ValueError
            If the arguments do not describe a command (missing bank, row out of range,
            cycle going backwards, ...).
        """
        cmd = Command(cmd)
        if isinstance(cycle, bool) or not isinstance(cycle, int | np.integer) or cycle < 0:
            raise ValueError(f"cycle must be a non-negative integer, not {cycle!r}")
        cycle = int(cycle)
        if cycle < self._last_cycle:
            raise ValueError(f"cycle {cycle} is earlier than the last command's, "
                             f"{self._last_cycle}")
        burst = keep = None
        if cmd in _BANK_COMMANDS:
            self._check_bank(bank)
        elif bank is not None:
            raise ValueError(f"{cmd.name} takes no bank, not {bank!r}")
        if cmd is Command.ACT:
            self._check_address(bank, row, 0)
        if cmd in _COLUMN_COMMANDS:
            self._check_address(bank, 0, col)
        if cmd in _WRITES:
            if data is None:
                raise ValueError(f"{cmd.name} needs data")
            burst = self._as_burst(data)
            keep = self._as_mask(mask)
        what = cmd.name if bank is None else f"{cmd.name} bank {bank}"

        self.advance(cycle)
        self.check_refresh(cycle, what)
        targets = self._check_protocol(cycle, cmd, bank, what)
        self._check_buses(cycle, cmd, what)
        self._check_rules(cycle, cmd, targets, what)
        if cmd is Command.ACT:
            self._check_faw(cycle, what)
        return self._apply(cycle, cmd, bank, row, col, burst, keep, targets, what)

    def _check_protocol(self, cycle, cmd, bank, what):
        """Check bank states; return the banks the command acts on."""
        banks = range(self.geometry.banks)
        if cmd is Command.ACT:
            if self._open_row[bank] is not None:
                raise TimingViolation(
                    "bank open", f"ACT bank {bank}", self._act_cycle[bank], what, cycle,
                    detail=f"row {self._open_row[bank]} is still open")
            return [bank]
        if cmd in _COLUMN_COMMANDS:
            if self._open_row[bank] is None:
                last = self._last[_Event.PRE][bank]
                raise TimingViolation(
                    "bank closed", None if last is None else last.what,
                    None if last is None else last.cycle, what, cycle,
                    detail=f"bank {bank} has no open row")
            return [bank]
        if cmd is Command.PRE:
            return [bank] if self._open_row[bank] is not None else []
        if cmd is Command.PREA:
            return [b for b in banks if self._open_row[b] is not None]
        refreshed = [bank] if cmd is Command.REFPB else list(banks)
        for b in refreshed:
            if self._open_row[b] is not None:
                raise TimingViolation(
                    "refresh needs all banks precharged", f"ACT bank {b}", self._act_cycle[b],
                    what, cycle, detail=f"bank {b} is open")
        return refreshed

    def _check_buses(self, cycle, cmd, what):
        if cmd in _ROW_COMMANDS:
            last = self._last_row_cmd
            bus = "row bus"
        else:
            last = self._last_col_cmd
            bus = "column bus"
        if last is None:
            return
        last_cmd, last_what, last_cycle = last
        needs = 2 if last_cmd is Command.ACT else 1
        if cycle - last_cycle < needs:
            raise TimingViolation(bus, last_what, last_cycle, what, cycle, needs=needs)

    def _related(self, relation, earlier_bank, bank):
        if relation is _Relation.ANY:
            return True
        if relation is _Relation.SAME_BANK:
            return earlier_bank == bank
        if relation is _Relation.OTHER_BANK:
            return earlier_bank != bank
        same_group = self._group[earlier_bank] == self._group[bank]
        if relation is _Relation.SAME_GROUP:
            return same_group
        if relation is _Relation.SAME_GROUP_OTHER_BANK:
            return same_group and earlier_bank != bank
        return not same_group  # OTHER_GROUP

    def _check_rules(self, cycle, cmd, targets, what):
        for rule, needs in self._rules[cmd]:
            history = self._last[rule.earlier]
            if rule.relation is _Relation.CHANNEL:
                # A channel-wide command: the latest event of any bank counts, open or not.
                records = [record for record in history if record is not None]
                latest = max(records, key=lambda record: record.cycle, default=None)
                if latest is not None and cycle - latest.cycle < needs:
                    raise TimingViolation(rule.name, latest.what, latest.cycle, what, cycle,
                                          needs=needs)
                continue
            for bank in targets:
                for earlier_bank, record in enumerate(history):
                    if record is None or cycle - record.cycle >= needs:
                        continue
                    if self._related(rule.relation, earlier_bank, bank):
                        raise TimingViolation(rule.name, record.what, record.cycle, what,
                                              cycle, needs=needs)

    def _check_faw(self, cycle, what):
        if len(self._faw) == 4:
            first_what, first_cycle = self._faw[0]
            if cycle - first_cycle < self.timing.tFAW:
                raise TimingViolation("tFAW", first_what, first_cycle, what, cycle,
                                      needs=self.timing.tFAW)

    def _apply(self, cycle, cmd, bank, row, col, burst, keep, targets, what):
        t = self.timing
        record = _Record(what, cycle)
        self._last_cycle = cycle
        if cmd in _ROW_COMMANDS:
            self._last_row_cmd = (cmd, what, cycle)
        else:
            self._last_col_cmd = (cmd, what, cycle)

        if cmd is Command.ACT:
            self._open_row[bank] = row
            self._act_cycle[bank] = cycle
            self._last[_Event.ACT][bank] = record
            self._faw = [*self._faw[-3:], (what, cycle)]
            self.acts += 1
            return None
        if cmd in _PRECHARGES:
            for b in targets:
                self._open_row[b] = None
                self._last[_Event.PRE][b] = record
            self.precharges += bool(targets)
            return None
        if cmd in _REFRESHES:
            event = _Event.REF if cmd is Command.REF else _Event.REFPB
            for b in targets:
                self._last[event][b] = record
                self._refreshes_paid[b] += 1
            if cmd is Command.REF:
                self.refreshes += 1
            else:
                self.refreshes_per_bank += 1
            return None

        open_row = self._open_row[bank]
        self.data_bus_busy_cycles += t.burst_cycles
        if cmd in _READS:
            self._last[_Event.RD][bank] = record
            self.reads += 1
            result = ReadData(cycle + t.read_latency, self.memory[bank, open_row, col].copy())
            self._read_queue.append(result)
            precharge_at = cycle + t.tRTP_L
        else:
            self._last[_Event.WR][bank] = record
            self.writes += 1
            self._pending_writes.append((cycle + t.CWL, bank, open_row, col, burst, keep))
            result = None
            precharge_at = cycle + t.write_data_end + t.tWR
        if cmd in (Command.RDA, Command.WRA):
            precharge_at = max(precharge_at, self._act_cycle[bank] + t.tRAS)
            self._open_row[bank] = None
            self._last[_Event.PRE][bank] = _Record(f"{what} (auto-precharge)", precharge_at)
        return result

    # -- argument checks -----------------------------------------------------------------

    def _check_bank(self, bank):
        if (isinstance(bank, bool) or not isinstance(bank, int | np.integer)
                or not 0 <= bank < self.geometry.banks):
            raise ValueError(f"bank must be an integer in [0, {self.geometry.banks}), "
                             f"not {bank!r}")

    def _check_address(self, bank, row, col):
        self._check_bank(bank)
        for name, value, limit in (("row", row, self.geometry.rows),
                                   ("col", col, self.geometry.columns)):
            if (isinstance(value, bool) or not isinstance(value, int | np.integer)
                    or not 0 <= value < limit):
                raise ValueError(f"{name} must be an integer in [0, {limit}), not {value!r}")

    def _as_burst(self, data):
        size = self.geometry.bytes_per_access
        if isinstance(data, bytes | bytearray | memoryview):
            burst = np.frombuffer(bytes(data), dtype=np.uint8)
        else:
            burst = np.asarray(data)
            if burst.dtype != np.uint8:
                if not np.issubdtype(burst.dtype, np.integer) or np.any(
                        (burst < 0) | (burst > 255)):
                    raise ValueError(f"data must be bytes or integers in [0, 255], "
                                     f"not {data!r}")
                burst = burst.astype(np.uint8)
        if burst.shape != (size,):
            raise ValueError(f"data must be {size} bytes, not shape {burst.shape}")
        return burst.copy()

    def _as_mask(self, mask):
        size = self.geometry.bytes_per_access
        if mask is None:
            return np.zeros(size, dtype=bool)
        if isinstance(mask, int | np.integer) and not isinstance(mask, bool):
            if not 0 <= mask < 1 << size:
                raise ValueError(f"mask must fit in {size} bits, not {mask!r}")
            return np.array([(int(mask) >> i) & 1 for i in range(size)], dtype=bool)
        keep = np.asarray(mask, dtype=bool)
        if keep.shape != (size,):
            raise ValueError(f"mask must have {size} entries, not shape {keep.shape}")
        return keep
