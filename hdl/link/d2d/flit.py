"""Flit layouts of the die-to-die link (see ``docs/d2d.md`` for the format table).

A flit is ``header (2 B) | payload | CRC (2 B)``, sent byte 0 first and each byte most
significant bit first. As a hardware value the flit is the big-endian integer of its bytes: the
header is the top 16 bits, the CRC the bottom 16, and payload byte 0 sits just below the
header. The 2-byte header multiplexes its fields by flit type (bit 15 sent first):

- DATA  ``1 | vc | seq[7:0] | lc_sel | ack_seq[4:0]`` or ``... | 1 | credit_vc | limit[3:0]``
- CTRL  ``00 | nak | ack_seq[7:0] | credit_vc | credit_limit[3:0]``
- TRAIN ``01 | seq[7:0] | 000000``

CTRL flits carry :func:`idle_pattern` as payload and TRAIN flits :func:`train_pattern` (a status
byte, the receiver's credit advertisement, then the idle pattern), so that a dead link (all
zeros, whose CRC is also zero) is never mistaken for a good flit.
"""

import enum

from amaranth.hdl import Cat, Const
from amaranth.lib import data

from .crc import crc16_value

__all__ = ["FlitType", "LinkState", "header_layout", "flit_layout", "vc_payload_layout",
           "idle_pattern", "train_pattern", "payload_bytes_value", "TRAIN_LOCKED",
           "TRAIN_SEARCHING", "TRAIN_ADVERT_BYTES", "flit_good"]


class FlitType(enum.IntEnum):
    """Two-bit type code of the 2-byte header (bit 15 set means DATA, whatever bit 14)."""

    CTRL = 0b00
    TRAIN = 0b01
    DATA = 0b10


class LinkState(enum.IntEnum):
    """State of the link state machine."""

    RESET = 0
    TRAIN = 1
    ACTIVE = 2


#: First payload byte of a training flit whose sender has locked onto the far end.
TRAIN_LOCKED = 0x0F
#: First payload byte of a training flit whose sender is still searching.
TRAIN_SEARCHING = 0xF0
#: Payload bytes 1 .. 2 of a TRAIN flit: the sender's receive credit limit of VC 0 and VC 1, in
#: full (8 bits), from which the far end re-initialises its credits after a retrain.
TRAIN_ADVERT_BYTES = 2


def idle_pattern(payload_bytes):
    """Return the payload bytes of a CTRL flit (never all zero)."""
    return [(0xA5 ^ (37 * i)) & 0xFF for i in range(payload_bytes)]


def train_pattern(payload_bytes, locked, credit_limits=(0, 0)):
    """Return the payload bytes of a TRAIN flit.

    Byte 0 is the status (:data:`TRAIN_LOCKED` or :data:`TRAIN_SEARCHING`), bytes 1 and 2 the
    credit limits of VC 0 and VC 1 (integers, or 8-bit signals in the hardware), the rest is
    :func:`idle_pattern` (checked by the receiver).
    """
    status = TRAIN_LOCKED if locked else TRAIN_SEARCHING
    return [status, *credit_limits] + idle_pattern(payload_bytes)[1 + TRAIN_ADVERT_BYTES:]


_data_control = data.UnionLayout({
    "ack_seq": 5,
    "credit": data.StructLayout({"limit": 4, "vc": 1}),
})

#: The 2-byte header, one view per flit type (fields least significant first).
header_layout = data.UnionLayout({
    "data": data.StructLayout({
        "control": _data_control,
        "lc_sel": 1,
        "seq": 8,
        "vc": 1,
        "is_data": 1,
    }),
    "ctrl": data.StructLayout({
        "credit_limit": 4,
        "credit_vc": 1,
        "ack_seq": 8,
        "nak": 1,
        "type": 2,
    }),
    "train": data.StructLayout({
        "reserved": 6,
        "seq": 8,
        "type": 2,
    }),
})


def flit_layout(payload_bytes):
    """Return the layout of a whole flit: CRC in the low 16 bits, header in the top 16."""
    return data.StructLayout({
        "crc": 16,
        "payload": 8 * payload_bytes,
        "header": header_layout,
    })


def vc_payload_layout(payload_bytes):
    """Return the payload layout of the per-VC message streams: ``data[0]`` is byte 0."""
    return data.StructLayout({"data": data.ArrayLayout(8, payload_bytes)})


def payload_bytes_value(byte_values):
    """Return the flit payload field holding ``byte_values`` (byte 0 most significant)."""
    return Cat(*(Const(value, 8) if isinstance(value, int) else value
                 for value in reversed(list(byte_values))))


def flit_good(flit, payload_bytes):
    """Return whether ``flit`` (a view of :func:`flit_layout`) is good: CRC and format.

    DATA flits need only a matching CRC; CTRL flits must also carry :func:`idle_pattern` and
    TRAIN flits :func:`train_pattern` (locked or searching, any credit advertisement) with the
    reserved bits zero.
    """
    payload_bits = 8 * payload_bytes
    message = flit.as_value()[16:]
    crc_ok = crc16_value(message, len(message)) == flit.crc
    header = flit.header
    is_data = header.data.is_data
    is_ctrl = ~is_data & (header.ctrl.type == FlitType.CTRL)
    is_train = ~is_data & (header.ctrl.type == FlitType.TRAIN)
    status = flit.payload[payload_bits - 8:]
    fixed_bits = payload_bits - 8 * (1 + TRAIN_ADVERT_BYTES)  # the idle pattern after the advert
    fixed = idle_pattern(payload_bytes)[1 + TRAIN_ADVERT_BYTES:]
    train_ok = ((flit.payload[:fixed_bits] == payload_bytes_value(fixed))
                & ((status == TRAIN_LOCKED) | (status == TRAIN_SEARCHING))
                & (header.train.reserved == 0))
    idle_ok = flit.payload == payload_bytes_value(idle_pattern(payload_bytes))
    return crc_ok & (is_data | (is_ctrl & idle_ok) | (is_train & train_ok))
