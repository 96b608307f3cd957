"""CRC-16 golden model of the die-to-die link.

The link protects each flit (header and payload) with CRC-16 over the polynomial
x^16 + x^15 + x^2 + 1 (``0x8005``), initial value 0, no input or output reflection and no final
XOR: the parameters catalogued as CRC-16/UMTS (also CRC-16/BUYPASS), whose check value, the CRC
of the ASCII string ``"123456789"``, is ``0xFEE8``.

Three equivalent forms are given:

- :func:`crc16`, a bitwise shift register, the reference;
- :func:`crc16_table`, byte at a time through a 256-entry table;
- :func:`crc16_matrix`, the CRC as a GF(2) matrix, from which the RTL builds one XOR tree per
  CRC bit and so computes the CRC of a whole flit in one cycle.

Bit order
---------
Everything here sends the most significant bit of a byte first and byte 0 first: the bit vector
of ``data`` is ``bits[8 * i + j] = (data[i] >> (7 - j)) & 1`` (see :func:`bits_from_bytes`).
A CRC is a 16-bit integer; as a vector, element ``i`` is CRC bit ``15 - i`` (most significant
first), so that ``crc = sum(vector[i] << (15 - i))``. With init 0 the CRC is linear in the data
bits, hence ``crc_vector = crc16_matrix(len(bits)) @ bits mod 2`` exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np

__all__ = [
    "CRC16_CHECK",
    "CRC16_POLY",
    "bits_from_bytes",
    "crc16",
    "crc16_bits",
    "crc16_from_matrix",
    "crc16_matrix",
    "crc16_table",
]

#: Generator polynomial x^16 + x^15 + x^2 + 1, without the x^16 term.
CRC16_POLY = 0x8005
#: CRC-16/UMTS of ``b"123456789"``.
CRC16_CHECK = 0xFEE8

_MASK = 0xFFFF


def _check_poly_init(poly: int, init: int) -> None:
    if not isinstance(poly, int) or not 0 < poly <= _MASK or not poly & 1:
        raise ValueError(f"poly must be an odd 16-bit integer, not {poly!r}")
    if not isinstance(init, int) or not 0 <= init <= _MASK:
        raise ValueError(f"init must be a 16-bit integer, not {init!r}")


def crc16(data: bytes, poly: int = CRC16_POLY, init: int = 0) -> int:
    """Compute the CRC-16 of ``data`` one bit at a time (the reference form).

    Parameters
    ----------
    data : bytes
        Message, byte 0 first, each byte most significant bit first.
    poly : int
        Generator polynomial without the x^16 term (``0x8005``).
    init : int
        Initial register value (0 for the link).

    Returns
    -------
    int
        The 16-bit CRC (no reflection, no final XOR).
    """
    _check_poly_init(poly, init)
    crc = init
    for byte in bytes(data):
        crc ^= byte << 8
        for _ in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ poly) & _MASK
            else:
                crc = (crc << 1) & _MASK
    return crc


@lru_cache(maxsize=8)
def _byte_table(poly: int) -> tuple[int, ...]:
    return tuple(crc16(bytes([byte]), poly) for byte in range(256))


def crc16_table(data: bytes, poly: int = CRC16_POLY, init: int = 0) -> int:
    """Compute the CRC-16 of ``data`` a byte at a time through a 256-entry table.

    Parameters are as for :func:`crc16`, whose result this equals.

    Parameters
    ----------
    data : bytes
        Message, byte 0 first.
    poly : int
        Generator polynomial without the x^16 term.
    init : int
        Initial register value.

    Returns
    -------
    int
        The 16-bit CRC.
    """
    _check_poly_init(poly, init)
    table = _byte_table(poly)
    crc = init
    for byte in bytes(data):
        crc = ((crc << 8) & _MASK) ^ table[(crc >> 8) ^ byte]
    return crc


def bits_from_bytes(data: bytes) -> np.ndarray:
    """Return the bits of ``data`` as a uint8 vector, byte 0 first, MSB first in each byte.

    Parameters
    ----------
    data : bytes
        Message.

    Returns
    -------
    numpy.ndarray
        ``uint8`` vector of length ``8 * len(data)`` holding 0 and 1.
    """
    return np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))


def crc16_bits(bits: Iterable[int], poly: int = CRC16_POLY, init: int = 0) -> int:
    """Compute the CRC-16 of a bit sequence one bit at a time, first bit first.

    Unlike :func:`crc16` the message need not be a whole number of bytes; for a byte string,
    ``crc16_bits(bits_from_bytes(data)) == crc16(data)``.

    Parameters
    ----------
    bits : iterable of int
        Message bits, each 0 or 1, in transmission order.
    poly : int
        Generator polynomial without the x^16 term.
    init : int
        Initial register value.

    Returns
    -------
    int
        The 16-bit CRC.
    """
    _check_poly_init(poly, init)
    crc = init
    for bit in np.asarray(bits, dtype=np.uint8).ravel():
        if bit > 1:
            raise ValueError(f"bits must hold only 0 and 1, not {int(bit)!r}")
        feedback = ((crc >> 15) & 1) ^ int(bit)
        crc = (crc << 1) & _MASK
        if feedback:
            crc ^= poly
    return crc


@lru_cache(maxsize=32)
def _matrix_columns(nbits: int, poly: int) -> tuple[int, ...]:
    # Column j is the CRC of the unit message with a single 1 at bit j, i.e.
    # x^(16 + nbits - 1 - j) mod P(x). The last bit contributes x^16 mod P = poly; each step
    # towards the start of the message multiplies by x once more.
    columns = [0] * nbits
    term = poly
    for j in reversed(range(nbits)):
        columns[j] = term
        term = ((term << 1) ^ poly) & _MASK if term & 0x8000 else (term << 1) & _MASK
    return tuple(columns)


def crc16_matrix(nbits: int, poly: int = CRC16_POLY) -> np.ndarray:
    """Return the CRC-16 of an ``nbits``-bit message as a 16 x ``nbits`` GF(2) matrix.

    Row ``i`` lists the message bits whose XOR is CRC bit ``15 - i``; this is the XOR tree the
    RTL builds for that bit. With ``bits`` in the module's order (byte 0 first, MSB first),
    ``matrix @ bits % 2`` is the CRC vector, most significant bit first (init 0).

    Parameters
    ----------
    nbits : int
        Message length in bits, at least 1.
    poly : int
        Generator polynomial without the x^16 term.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(16, nbits)`` holding 0 and 1.
    """
    if not isinstance(nbits, int) or nbits < 1:
        raise ValueError(f"nbits must be a positive integer, not {nbits!r}")
    _check_poly_init(poly, 0)
    columns = np.array(_matrix_columns(nbits, poly), dtype=np.uint16)
    shifts = np.arange(15, -1, -1, dtype=np.uint16)[:, None]
    return ((columns[None, :] >> shifts) & 1).astype(np.uint8)


def crc16_from_matrix(matrix: np.ndarray, bits: np.ndarray) -> int:
    """Apply a :func:`crc16_matrix` to a message and return the CRC as an integer.

    Parameters
    ----------
    matrix : numpy.ndarray
        The 16 x ``nbits`` matrix.
    bits : numpy.ndarray
        Message bits, length ``nbits``.

    Returns
    -------
    int
        The 16-bit CRC.
    """
    vector = (np.asarray(matrix, dtype=np.int64) @ np.asarray(bits, dtype=np.int64)) & 1
    return int(sum(int(v) << (15 - i) for i, v in enumerate(vector)))
