"""Flit format golden model of the die-to-die link.

A flit is ``header | payload | crc``, sent byte 0 first and each byte most significant bit
first. The CRC is CRC-16/UMTS (:mod:`verif.models.crc`) over header and payload, stored big
endian. :class:`FlitFormat` sets the sizes; the presets are

============  =======  ======  ===  =====  ==================
preset        payload  header  CRC  flit   payload efficiency
============  =======  ======  ===  =====  ==================
FLIT_BR100    64 B     2 B     2 B  68 B   64/68 = 0.941
FLIT_FPGA     8 B      2 B     2 B  12 B   8/12 = 0.667
============  =======  ======  ===  =====  ==================

Header layouts
--------------
A data flit needs its type, virtual channel (VC) and 8-bit sequence number (10 bits); the link
also has to return an acknowledgement (8-bit sequence number, NAK flag) and credits per VC.
That is more than 16 bits, and a 4-byte header would cost the 68 B flit its 64/68 efficiency
(64/70 = 0.914 is below the 0.93 goodput target). The 2-byte header therefore multiplexes:

- a DATA flit carries *either* the acknowledgement, cut to its 5 low bits, *or* a credit
  return for one VC (``lc_sel`` chooses); the link sender alternates the two;
- a NAK travels in a CTRL flit, which carries the full acknowledgement and a credit return
  and is also the idle flit, sent whenever there is no data.

Every link-control field is idempotent, so it can ride on any flit, unsequenced or replayed, and
a lost or repeated copy does no harm: the acknowledgement is cumulative and the receiver of the
5-bit form expands it against its own window of unacknowledged sequence numbers (unique while at
most 31 flits are outstanding, see :attr:`FlitFormat.max_replay_depth`); credits are returned as
the absolute credit limit of the VC modulo 16 (as PCIe flow-control updates do), exact while the
receive buffer of a VC holds at most 15 flits (:attr:`FlitFormat.max_rx_credits`). A 4-byte
header (``header_bytes=4``) carries every field in every flit, for deeper buffers.

2-byte header, bit 15 sent first:

====  =====  ==============  =====================================================
type  bits   field           meaning
====  =====  ==============  =====================================================
DATA  15     type            1
DATA  14     vc              0 requests, 1 responses
DATA  13:6   seq             sequence number of this flit
DATA  5      lc_sel          0: bits 4:0 are ``ack_seq``; 1: they are a credit return
DATA  4:0    ack_seq[4:0]    (lc_sel 0) last sequence number received in order, mod 32
DATA  4      credit_vc       (lc_sel 1) VC of the credit return
DATA  3:0    credit_limit    (lc_sel 1) credit limit of ``credit_vc``, mod 16
CTRL  15:14  type            00 (acknowledgement, NAK, credits; also the idle flit)
CTRL  13     nak             1: flits after ``ack_seq`` were lost, replay them
CTRL  12:5   ack_seq         last sequence number received in order
CTRL  4      credit_vc       VC of the credit return
CTRL  3:0    credit_limit    credit limit of ``credit_vc``, mod 16
TRAIN 15:14  type            01 (link training; the payload holds the pattern)
TRAIN 13:6   seq             training flit counter
TRAIN 5:0    reserved        0
====  =====  ==============  =====================================================

4-byte header, bit 31 sent first; every type carries every field:

=====  ==============  =========================================================
bits   field           meaning
=====  ==============  =========================================================
31:30  type            00 CTRL, 01 TRAIN, 10 DATA, 11 reserved
29     vc              0 requests, 1 responses
28:21  seq             sequence number (DATA), training counter (TRAIN)
20     ack_valid       bits 19:12 hold an acknowledgement
19:12  ack_seq         last sequence number received in order
11     nak             1: flits after ``ack_seq`` were lost, replay them
10     credit_valid    bits 9:3 hold a credit return
9      credit_vc       VC of the credit return
8:3    credit_limit    credit limit of ``credit_vc``, mod 64
2:0    reserved        0
=====  ==============  =========================================================

In :class:`FlitHeader`, a field a flit does not carry is ``None`` (``ack_seq``,
``credit_limit``) or zero/``False`` (the others); :func:`pack` rejects anything else, so that
``unpack(fmt, pack(fmt, header, payload))`` gives back ``header`` exactly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .crc import crc16_table

__all__ = [
    "FLIT_BR100",
    "FLIT_FPGA",
    "NUM_VCS",
    "SEQ_MODULUS",
    "VC_REQUEST",
    "VC_RESPONSE",
    "FlitFormat",
    "FlitHeader",
    "FlitType",
    "TRAIN_LOCKED",
    "TRAIN_SEARCHING",
    "idle_payload",
    "pack",
    "parse_train_payload",
    "payload_efficiency",
    "train_payload",
    "unpack",
]

#: Number of virtual channels (one header bit).
NUM_VCS = 2
#: Virtual channel of requests.
VC_REQUEST = 0
#: Virtual channel of responses.
VC_RESPONSE = 1
#: Sequence numbers are 8 bits and wrap modulo 256.
SEQ_MODULUS = 256


class FlitType(enum.IntEnum):
    """Kind of a flit."""

    #: Acknowledgement, NAK and credit return only; also sent as the idle flit.
    CTRL = 0
    #: Link training; the payload carries the training pattern.
    TRAIN = 1
    #: Sequenced data of one virtual channel, kept for replay until acknowledged.
    DATA = 2


@dataclass(frozen=True, kw_only=True)
class FlitFormat:
    """Sizes of a flit.

    Parameters
    ----------
    payload_bytes : int
        Payload size, a power of two of at least 4.
    header_bytes : int
        Header size, 2 (multiplexed layout) or 4 (every field in every flit).
    crc_bytes : int
        CRC size; only 2 (CRC-16) is supported.
    """

    payload_bytes: int
    header_bytes: int = 2
    crc_bytes: int = 2

    def __post_init__(self):
        p = self.payload_bytes
        if not isinstance(p, int) or isinstance(p, bool) or p < 4 or p & (p - 1):
            raise ValueError(f"payload_bytes must be a power of two >= 4, not {p!r}")
        if self.header_bytes not in (2, 4) or isinstance(self.header_bytes, bool):
            raise ValueError(f"header_bytes must be 2 or 4, not {self.header_bytes!r}")
        if self.crc_bytes != 2 or isinstance(self.crc_bytes, bool):
            raise ValueError(f"crc_bytes must be 2 (CRC-16), not {self.crc_bytes!r}")

    @property
    def flit_bytes(self) -> int:
        """Bytes of a whole flit: header, payload and CRC."""
        return self.header_bytes + self.payload_bytes + self.crc_bytes

    @property
    def flit_bits(self) -> int:
        """Bits of a whole flit."""
        return 8 * self.flit_bytes

    @property
    def crc_covered_bits(self) -> int:
        """Bits the CRC covers: header and payload."""
        return 8 * (self.header_bytes + self.payload_bytes)

    def ack_bits(self, flit_type: FlitType) -> int:
        """Return how many low bits of ``ack_seq`` a flit of ``flit_type`` carries."""
        if self.header_bytes == 2 and FlitType(flit_type) is FlitType.DATA:
            return 5
        return 8

    @property
    def credit_bits(self) -> int:
        """Width of the credit limit field: the limit is carried modulo ``2**credit_bits``."""
        return 4 if self.header_bytes == 2 else 6

    @property
    def max_replay_depth(self) -> int:
        """Largest replay buffer for which every acknowledgement decodes uniquely."""
        return min(SEQ_MODULUS // 2 - 1, 2 ** self.ack_bits(FlitType.DATA) - 1)

    @property
    def max_rx_credits(self) -> int:
        """Largest receive buffer per VC, in flits, for which credit limits decode exactly."""
        return 2**self.credit_bits - 1


#: Status byte of a TRAIN flit whose sender has locked onto the far end's flit boundary.
TRAIN_LOCKED = 0x0F
#: Status byte of a TRAIN flit whose sender is still searching for it.
TRAIN_SEARCHING = 0xF0


def idle_payload(fmt: FlitFormat) -> bytes:
    """Return the payload of a CTRL flit: byte ``i`` is ``0xA5 ^ (37 * i) mod 256``.

    With CRC init 0 an all-zero flit has a zero CRC, so CTRL and TRAIN flits carry fixed,
    never-zero patterns that the receiver checks; a dead link is then never taken for a stream
    of good CTRL flits.
    """
    return bytes((0xA5 ^ (37 * i)) & 0xFF for i in range(fmt.payload_bytes))


def train_payload(fmt: FlitFormat, *, locked: bool, credit_limits) -> bytes:
    """Return the payload of a TRAIN flit.

    Byte 0 is :data:`TRAIN_LOCKED` or :data:`TRAIN_SEARCHING`; bytes 1 and 2 advertise the
    sender's receive credit limit of VC 0 and VC 1 modulo 256 (flits its consumer has taken
    plus its buffer depth), from which the far end re-initialises its credits while training;
    the remaining bytes are those of :func:`idle_payload`.

    Parameters
    ----------
    fmt : FlitFormat
        Flit format.
    locked : bool
        Whether the sender has locked onto the far end's flits.
    credit_limits : sequence of int
        One limit per VC, 0 to 255.
    """
    limits = list(credit_limits)
    if len(limits) != NUM_VCS:
        raise ValueError(f"credit_limits must have {NUM_VCS} entries, not {limits!r}")
    for limit in limits:
        _check_range("credit_limits entry", limit, 8)
    status = TRAIN_LOCKED if locked else TRAIN_SEARCHING
    return bytes([status, *limits]) + idle_payload(fmt)[1 + NUM_VCS:]


def parse_train_payload(fmt: FlitFormat, payload: bytes) -> tuple[bool, list[int]] | None:
    """Return ``(locked, credit_limits)`` of a TRAIN flit's payload, or None if malformed.

    The inverse of :func:`train_payload`; a payload with another status byte or pattern is
    rejected like a CRC error.
    """
    payload = bytes(payload)
    if len(payload) != fmt.payload_bytes:
        raise ValueError(f"payload must be {fmt.payload_bytes} bytes, not {len(payload)}")
    if payload[0] not in (TRAIN_LOCKED, TRAIN_SEARCHING):
        return None
    if payload[1 + NUM_VCS:] != idle_payload(fmt)[1 + NUM_VCS:]:
        return None
    return payload[0] == TRAIN_LOCKED, list(payload[1 : 1 + NUM_VCS])


#: 68 B flit of the two-tile ``br100`` chip: 64 B payload, 2 B header, 2 B CRC.
FLIT_BR100 = FlitFormat(payload_bytes=64, header_bytes=2)
#: Small flit of the ``fpga`` configuration: 8 B payload, 2 B header, 2 B CRC.
FLIT_FPGA = FlitFormat(payload_bytes=8, header_bytes=2)


def payload_efficiency(fmt: FlitFormat) -> float:
    """Return the payload share of a flit, the goodput of an error-free, fully loaded link.

    Parameters
    ----------
    fmt : FlitFormat
        Flit format.

    Returns
    -------
    float
        ``payload_bytes / flit_bytes`` (64/68 = 0.941 for :data:`FLIT_BR100`).
    """
    return fmt.payload_bytes / fmt.flit_bytes


def _check_range(name: str, value, width: int) -> None:
    if not isinstance(value, int) or not 0 <= value < 2**width:
        raise ValueError(f"{name} must be an integer in [0, {2**width - 1}], not {value!r}")


@dataclass(frozen=True, kw_only=True)
class FlitHeader:
    """Logical content of a flit header.

    Parameters
    ----------
    type : FlitType
        Kind of flit.
    vc : int
        Virtual channel of a DATA flit: :data:`VC_REQUEST` or :data:`VC_RESPONSE`.
    seq : int
        Sequence number (DATA) or training counter (TRAIN), 0 to 255.
    ack_seq : int or None
        Acknowledgement, in the width the flit carries (:meth:`FlitFormat.ack_bits`), or None.
    nak : bool
        Negative acknowledgement: replay everything after ``ack_seq``.
    credit_vc : int
        VC whose credit limit ``credit_limit`` is.
    credit_limit : int or None
        Credit limit of ``credit_vc`` modulo ``2**fmt.credit_bits``, or None.
    """

    type: FlitType
    vc: int = 0
    seq: int = 0
    ack_seq: int | None = None
    nak: bool = False
    credit_vc: int = 0
    credit_limit: int | None = None

    def __post_init__(self):
        if not isinstance(self.type, FlitType):
            raise ValueError(f"type must be a FlitType, not {self.type!r}")
        _check_range("vc", self.vc, 1)
        _check_range("seq", self.seq, 8)
        if self.ack_seq is not None:
            _check_range("ack_seq", self.ack_seq, 8)
        if not isinstance(self.nak, bool):
            raise ValueError(f"nak must be a bool, not {self.nak!r}")
        _check_range("credit_vc", self.credit_vc, 1)
        if self.credit_limit is not None:
            _check_range("credit_limit", self.credit_limit, 6)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _encode_header_2(fmt: FlitFormat, h: FlitHeader) -> int:
    credit = h.credit_limit
    if h.type is FlitType.DATA:
        _require(not h.nak, "nak is not carried by a 2-byte DATA header; send a CTRL flit")
        _require(
            (h.ack_seq is None) != (credit is None),
            "a 2-byte DATA header carries exactly one of ack_seq and credit_limit",
        )
        if h.ack_seq is not None:
            _check_range("ack_seq", h.ack_seq, fmt.ack_bits(FlitType.DATA))
            _require(h.credit_vc == 0, "credit_vc must be 0 when a DATA header carries ack_seq")
            control = h.ack_seq
        else:
            _check_range("credit_limit", credit, fmt.credit_bits)
            control = 1 << 5 | h.credit_vc << 4 | credit
        return 1 << 15 | h.vc << 14 | h.seq << 6 | control
    _require(h.vc == 0, f"vc is not carried by a 2-byte {h.type.name} header, not {h.vc!r}")
    if h.type is FlitType.CTRL:
        _require(h.seq == 0, f"seq is not carried by a 2-byte CTRL header, not {h.seq!r}")
        _require(h.ack_seq is not None, "ack_seq is required in a 2-byte CTRL header")
        _require(credit is not None, "credit_limit is required in a 2-byte CTRL header")
        _check_range("credit_limit", credit, fmt.credit_bits)
        return h.nak << 13 | h.ack_seq << 5 | h.credit_vc << 4 | credit
    _require(
        h.ack_seq is None and not h.nak and credit is None and h.credit_vc == 0,
        "a 2-byte TRAIN header carries only seq",
    )
    return 0b01 << 14 | h.seq << 6


def _decode_header_2(word: int) -> FlitHeader:
    if word >> 15:
        vc, seq = word >> 14 & 1, word >> 6 & 0xFF
        if word >> 5 & 1:
            return FlitHeader(
                type=FlitType.DATA, vc=vc, seq=seq, credit_vc=word >> 4 & 1,
                credit_limit=word & 0xF,
            )
        return FlitHeader(type=FlitType.DATA, vc=vc, seq=seq, ack_seq=word & 0x1F)
    if word >> 14 & 1:
        return FlitHeader(type=FlitType.TRAIN, seq=word >> 6 & 0xFF)
    return FlitHeader(
        type=FlitType.CTRL, nak=bool(word >> 13 & 1), ack_seq=word >> 5 & 0xFF,
        credit_vc=word >> 4 & 1, credit_limit=word & 0xF,
    )


_TYPE_CODE_4 = {FlitType.CTRL: 0b00, FlitType.TRAIN: 0b01, FlitType.DATA: 0b10}
_CODE_TYPE_4 = {code: flit_type for flit_type, code in _TYPE_CODE_4.items()}


def _encode_header_4(fmt: FlitFormat, h: FlitHeader) -> int:
    word = _TYPE_CODE_4[h.type] << 30 | h.vc << 29 | h.seq << 21 | h.nak << 11 | h.credit_vc << 9
    if h.ack_seq is not None:
        word |= 1 << 20 | h.ack_seq << 12
    if h.credit_limit is not None:
        _check_range("credit_limit", h.credit_limit, fmt.credit_bits)
        word |= 1 << 10 | h.credit_limit << 3
    return word


def _decode_header_4(word: int) -> FlitHeader | None:
    flit_type = _CODE_TYPE_4.get(word >> 30)
    if flit_type is None:
        return None
    return FlitHeader(
        type=flit_type,
        vc=word >> 29 & 1,
        seq=word >> 21 & 0xFF,
        ack_seq=word >> 12 & 0xFF if word >> 20 & 1 else None,
        nak=bool(word >> 11 & 1),
        credit_vc=word >> 9 & 1,
        credit_limit=word >> 3 & 0x3F if word >> 10 & 1 else None,
    )


def pack(fmt: FlitFormat, header: FlitHeader, payload: bytes | None = None) -> bytes:
    """Assemble a flit: header, payload, then the CRC of both.

    Parameters
    ----------
    fmt : FlitFormat
        Flit format.
    header : FlitHeader
        Header; every field must be one the format carries for ``header.type``.
    payload : bytes, optional
        Exactly ``fmt.payload_bytes`` bytes; all zero if omitted.

    Returns
    -------
    bytes
        The ``fmt.flit_bytes``-byte flit.

    Raises
    ------
    ValueError
        If a header field is out of range or not carried, or the payload has the wrong size.
    """
    if payload is None:
        payload = bytes(fmt.payload_bytes)
    payload = bytes(payload)
    if len(payload) != fmt.payload_bytes:
        raise ValueError(f"payload must be {fmt.payload_bytes} bytes, not {len(payload)}")
    if fmt.header_bytes == 2:
        word = _encode_header_2(fmt, header)
    else:
        word = _encode_header_4(fmt, header)
    body = word.to_bytes(fmt.header_bytes, "big") + payload
    return body + crc16_table(body).to_bytes(2, "big")


def unpack(fmt: FlitFormat, raw: bytes) -> tuple[FlitHeader | None, bytes, bool]:
    """Split a received flit and check its CRC.

    Parameters
    ----------
    fmt : FlitFormat
        Flit format.
    raw : bytes
        The ``fmt.flit_bytes``-byte flit as received.

    Returns
    -------
    header : FlitHeader or None
        Decoded header; None if the type code is reserved. Meaningless if ``crc_ok`` is false.
    payload : bytes
        The payload bytes.
    crc_ok : bool
        Whether the CRC matches header and payload.
    """
    raw = bytes(raw)
    if len(raw) != fmt.flit_bytes:
        raise ValueError(f"raw must be {fmt.flit_bytes} bytes, not {len(raw)}")
    body_end = fmt.header_bytes + fmt.payload_bytes
    body = raw[:body_end]
    crc_ok = crc16_table(body) == int.from_bytes(raw[body_end:], "big")
    word = int.from_bytes(raw[: fmt.header_bytes], "big")
    header = _decode_header_2(word) if fmt.header_bytes == 2 else _decode_header_4(word)
    return header, raw[fmt.header_bytes : body_end], crc_ok
