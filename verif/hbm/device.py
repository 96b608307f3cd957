"""cocotb wrapper of the JEDEC-checking HBM device model on the controller's PHY interface.

:class:`HBMDevice` stands where the DRAM would. Every cycle it samples ``phy__row_cmd`` and
``phy__col_cmd`` and hands each command to :class:`verif.models.hbm_device.HBMDeviceModel`,
which raises :class:`~verif.models.hbm_device.TimingViolation` (naming the rule, both commands
and their cycles) on any broken rule; the wrapper re-raises it, failing the test. Read bursts
are driven on ``phy__rddata`` from cycle ``RD + CL``, ``data_rate`` beats per cycle. A reset
of the controller starts a fresh model (array included).

Write data arrives on ``phy__wrdata`` ``CWL`` cycles after its WR, so the wrapper gives the
model the WR for its timing checks with every byte masked, captures the beats in cycles
``WR + CWL .. WR + CWL + burst_cycles - 1`` and merges them into the model's array (JEDEC mask:
a set bit keeps the byte). Write data in any other cycle, or missing in those cycles, is an
error. No read can observe the array between the two steps: ``tWTR`` keeps every RD of the
same bank group more than ``CWL + burst_cycles`` cycles after the WR.

Cycles are counted from the first cycle after reset, which is cycle 0 of the model.

With ``raise_violations=False`` (negative tests: a controller built with wrong timing on
purpose) a violation is recorded in :attr:`HBMDevice.violations` instead, and the wrapper stops
checking (the model was left as before the offending command, so later commands would only
cascade); read data is no longer driven.
"""

import numpy as np
from cocotb.triggers import RisingEdge

from hdl.hbm.phy import (
    ColCommand,
    RowCommand,
    col_command_layout,
    read_data_layout,
    row_command_layout,
    write_data_layout,
)
from verif.models.hbm_device import Command, HBMDeviceModel, TimingViolation

from ..payload import decode, encode

__all__ = ["HBMDevice", "PHYProtocolError"]

_ROW = {RowCommand.ACT.value: Command.ACT, RowCommand.PRE.value: Command.PRE,
        RowCommand.PREA.value: Command.PREA, RowCommand.REF.value: Command.REF,
        RowCommand.REFPB.value: Command.REFPB}
_COL = {(ColCommand.RD.value, 0): Command.RD, (ColCommand.WR.value, 0): Command.WR,
        (ColCommand.RD.value, 1): Command.RDA, (ColCommand.WR.value, 1): Command.WRA}


class PHYProtocolError(AssertionError):
    """The controller broke the PHY interface (an unknown command, stray write data)."""


def _word(handle):
    value = handle.value
    if not value.is_resolvable:
        return None
    return value.to_unsigned()


class HBMDevice:
    """Drive the PHY side of a pseudo-channel controller from an :class:`HBMDeviceModel`.

    Parameters
    ----------
    dut
        The cocotb handle of the design.
    clock, reset
        Its clock and (active-high) reset; while reset is high nothing is checked.
    timing, geometry
        Timing (``HBMTiming``) and organisation (``HBMGeometry``) of the pseudo-channel.
    prefix : str
        Prefix of the PHY ports (``phy``).
    raise_violations : bool
        Raise a :class:`~verif.models.hbm_device.TimingViolation` (failing the test) as soon
        as it happens, or record it in :attr:`violations` and stop checking.
    """

    def __init__(self, dut, clock, reset, timing, geometry, *, prefix="phy",
                 raise_violations=True):
        self.raise_violations = raise_violations
        self.clock = clock
        self.reset = reset
        self.timing = timing
        self.geometry = geometry
        self.row_cmd = getattr(dut, f"{prefix}__row_cmd")
        self.col_cmd = getattr(dut, f"{prefix}__col_cmd")
        self.wrdata = getattr(dut, f"{prefix}__wrdata")
        self.rddata = getattr(dut, f"{prefix}__rddata")
        self.row_layout = row_command_layout(geometry)
        self.col_layout = col_command_layout(geometry)
        self.wr_layout = write_data_layout(geometry, timing)
        self.rd_layout = read_data_layout(geometry, timing)
        self.beat_bytes = geometry.bus_width // 8 * timing.data_rate
        self.rddata.value = 0
        self._in_reset = False
        self.restart()

    def restart(self):
        """Forget all state, the array included: a fresh model at cycle 0."""
        self.model = HBMDeviceModel(self.timing, self.geometry)
        self.cycle = 0
        self.commands = []        # (cycle, Command, bank, row, col), when logging is on
        self.log_commands = False
        self._read_beats = {}     # cycle -> beat integer to drive in that cycle
        self._write_beats = {}    # cycle -> (write record, beat index)
        self.violations = []      # TimingViolation, when raise_violations is off

    async def run(self):
        """Check and serve the PHY forever (start with ``cocotb.start_soon``)."""
        while True:
            await RisingEdge(self.clock)
            if self.reset is not None and self.reset.value.is_resolvable \
                    and int(self.reset.value):
                if not self._in_reset:
                    self.restart()
                    self._in_reset = True
                self.rddata.value = 0
                continue
            self._in_reset = False
            if self.violations:
                self.rddata.value = 0
                continue
            try:
                self._step()
            except TimingViolation as violation:
                if self.raise_violations:
                    raise
                self.violations.append(violation)

    def _step(self):
        c = self.cycle
        self._capture_write_data(c)
        row = _word(self.row_cmd)
        col = _word(self.col_cmd)
        if row is None or col is None:
            raise PHYProtocolError(f"cycle {c}: X/Z on the command buses")
        row = decode(self.row_layout, row)
        col = decode(self.col_layout, col)
        if row["cmd"] != RowCommand.NOP.value:
            if row["cmd"] not in _ROW:
                raise PHYProtocolError(f"cycle {c}: unknown row command {row['cmd']}")
            cmd = _ROW[row["cmd"]]
            bank = row["bank"] if cmd in (Command.ACT, Command.PRE, Command.REFPB) else None
            self.model.issue(c, cmd, bank=bank,
                             row=row["row"] if cmd is Command.ACT else None)
            if self.log_commands:
                self.commands.append((c, cmd, bank, row["row"], None))
        if col["cmd"] != ColCommand.NOP.value:
            if (col["cmd"], col["ap"]) not in _COL:
                raise PHYProtocolError(f"cycle {c}: unknown column command {col['cmd']}")
            cmd = _COL[col["cmd"], col["ap"]]
            bank, column = col["bank"], col["col"]
            if cmd in (Command.RD, Command.RDA):
                burst = self.model.issue(c, cmd, bank=bank, col=column)
                raw = burst.data.tobytes()
                for j in range(self.timing.burst_cycles):
                    beat = raw[j * self.beat_bytes:(j + 1) * self.beat_bytes]
                    self._read_beats[c + self.timing.CL + j] = int.from_bytes(beat, "little")
            else:
                row_open = self.model.open_row(bank)   # a WRA closes it
                self.model.issue(c, cmd, bank=bank, col=column,
                                 data=bytes(self.geometry.bytes_per_access),
                                 mask=(1 << self.geometry.bytes_per_access) - 1)
                record = {"bank": bank, "row": row_open, "col": column,
                          "cycle": c, "beats": []}
                for j in range(self.timing.burst_cycles):
                    self._write_beats[c + self.timing.CWL + j] = (record, j)
            if self.log_commands:
                self.commands.append((c, cmd, bank, None, column))
        # Drive the read data bus for the next cycle.
        beat = self._read_beats.pop(c + 1, None)
        if beat is None:
            self.rddata.value = 0
        else:
            self.rddata.value = encode(self.rd_layout, {"valid": 1, "data": beat})
        self.cycle += 1

    def _capture_write_data(self, c):
        word = _word(self.wrdata)
        if word is None:
            raise PHYProtocolError(f"cycle {c}: X/Z on the write data bus")
        beat = decode(self.wr_layout, word)
        expected = self._write_beats.pop(c, None)
        if expected is None:
            if beat["valid"]:
                raise PHYProtocolError(f"cycle {c}: write data without a WR {self.timing.CWL} "
                                       f"cycles before")
            return
        record, index = expected
        if not beat["valid"]:
            raise PHYProtocolError(f"cycle {c}: beat {index} of the WR at cycle "
                                   f"{record['cycle']} is missing")
        record["beats"].append(beat)
        if len(record["beats"]) < self.timing.burst_cycles:
            return
        data = bytearray()
        mask = 0
        for j, part in enumerate(record["beats"]):
            data += part["data"].to_bytes(self.beat_bytes, "little")
            mask |= part["mask"] << (j * self.beat_bytes)
        bank, row, column = record["bank"], record["row"], record["col"]
        old = self.model.peek(bank, row, column)
        new = np.frombuffer(bytes(data), dtype=np.uint8)
        keep = np.array([(mask >> i) & 1 for i in range(len(new))], dtype=bool)
        merged = np.where(keep, old, new).astype(np.uint8)
        self.model.poke(bank, row, column, merged)
