"""The cycle-level PHY-side interface of the pseudo-channel controller, in the spirit of DFI.

One controller clock cycle is one DRAM command clock (``tCK``, 1:1). HBM has separate row and
column command buses, so each cycle carries at most one row command and one column command.
All four members are plain ``data.Struct`` signals, not streams: a PHY cannot push back.
The controller drives ``row_cmd`` and ``col_cmd`` from its registered state in the cycle it
decides them (no output register of its own); the PHY (like a DFI PHY) or the memory model
samples them at the end of that cycle, the cycle the command counts as issued in.

``row_cmd`` (controller to PHY)
    ``cmd`` (:class:`RowCommand`), ``bank``, ``row``. ``row`` is meaningful for ``ACT``,
    ``bank`` for ``ACT``, ``PRE`` and ``REFPB``.
``col_cmd`` (controller to PHY)
    ``cmd`` (:class:`ColCommand`), ``bank``, ``col``: one burst of ``burst_length`` beats;
    ``ap`` set makes an RD an RDA, a WR a WRA (auto-precharge: the bank closes by itself at
    ``max(RD + tRTP_L, ACT + tRAS)``, ``max(WR + CWL + burst + tWR, ACT + tRAS)``).
``wrdata`` (controller to PHY)
    ``valid``, ``data``, ``mask``: ``data_rate`` beats per cycle (128 bits for a 64-bit
    pseudo-channel at DDR), the first beat in the low bits. A ``WR`` seen on ``col_cmd`` in
    cycle ``c`` has its data in cycles ``c + CWL .. c + CWL + burst_cycles - 1``. ``mask``
    follows the JEDEC data mask: bit ``i`` set means byte ``i`` is *not* written.
``rddata`` (PHY to controller)
    ``valid``, ``data``: the read bursts, in the order of their ``RD`` commands,
    ``burst_cycles`` consecutive cycles per burst. The controller does not depend on the read
    latency, as long as the first beat comes at least 2 cycles after its ``RD``: a DRAM
    returns data ``CL`` cycles after ``RD``, the on-chip memory model after its own fixed
    latency.
"""

from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

__all__ = ["RowCommand", "ColCommand", "row_command_layout", "col_command_layout",
           "write_data_layout", "read_data_layout", "phy_signature"]


class RowCommand(enum.Enum, shape=3):
    """Commands of the row command bus."""

    NOP = 0
    ACT = 1
    PRE = 2
    PREA = 3
    REF = 4
    REFPB = 5


class ColCommand(enum.Enum, shape=2):
    """Commands of the column command bus."""

    NOP = 0
    RD = 1
    WR = 2


def _bits(count):
    return max(1, exact_log2(count))


def row_command_layout(geometry):
    """Return the layout of the row command bus for ``geometry`` (an ``HBMGeometry``)."""
    return data.StructLayout({
        "cmd": RowCommand,
        "bank": _bits(geometry.banks),
        "row": _bits(geometry.rows),
    })


def col_command_layout(geometry):
    """Return the layout of the column command bus."""
    return data.StructLayout({
        "cmd": ColCommand,
        "bank": _bits(geometry.banks),
        "col": _bits(geometry.columns),
        "ap": 1,
    })


def beat_bytes(geometry, timing):
    """Return the bytes the data bus moves per controller cycle."""
    return geometry.bus_width // 8 * timing.data_rate


def write_data_layout(geometry, timing):
    """Return the layout of the write data bus (one cycle: ``data_rate`` beats)."""
    width = beat_bytes(geometry, timing)
    return data.StructLayout({"valid": 1, "data": 8 * width, "mask": width})


def read_data_layout(geometry, timing):
    """Return the layout of the read data bus (one cycle: ``data_rate`` beats)."""
    return data.StructLayout({"valid": 1, "data": 8 * beat_bytes(geometry, timing)})


def phy_signature(geometry, timing):
    """Return the PHY-side signature, seen from the controller."""
    return wiring.Signature({
        "row_cmd": Out(row_command_layout(geometry)),
        "col_cmd": Out(col_command_layout(geometry)),
        "wrdata": Out(write_data_layout(geometry, timing)),
        "rddata": In(read_data_layout(geometry, timing)),
    })
