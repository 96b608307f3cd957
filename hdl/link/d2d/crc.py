"""CRC-16 of a whole flit in one cycle, derived from the generator polynomial.

The link's CRC is the polynomial x^16 + x^15 + x^2 + 1 (``0x8005``), initial value 0, no
reflection, no final XOR; the message is sent most significant bit first. With a zero initial
value the CRC is linear over GF(2) in the message bits, so each CRC bit is the XOR of a fixed
subset of them. :func:`crc16_taps` finds the subsets at elaboration time by running the shift
register symbolically (each register bit holds the set of message bits it is the XOR of, as a
bit mask); :func:`crc16_value` turns them into one XOR tree per CRC bit.
"""

from functools import lru_cache

from amaranth.hdl import Cat, Const

__all__ = ["CRC16_POLY", "crc16_taps", "crc16_value"]

#: x^16 + x^15 + x^2 + 1 without the x^16 term.
CRC16_POLY = 0x8005


@lru_cache(maxsize=16)
def crc16_taps(width, poly=CRC16_POLY):
    """Return, per CRC bit, the mask of the message bits whose XOR it is.

    Parameters
    ----------
    width : int
        Message length in bits. The message is an integer whose most significant bit is sent
        first (bit ``width - 1`` first, bit 0 last).
    poly : int
        Generator polynomial without the x^16 term.

    Returns
    -------
    tuple of int
        ``taps[c]`` has bit ``i`` set when message bit ``i`` enters CRC bit ``c``.
    """
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, not {width!r}")
    register = [0] * 16  # register[c]: mask of message bits XORed into CRC bit c
    feedback_bits = [c for c in range(16) if poly >> c & 1]
    for i in reversed(range(width)):  # message bit width-1 is shifted in first
        feedback = register[15] ^ (1 << i)
        register = [0] + register[:15]
        for c in feedback_bits:
            register[c] ^= feedback
    return tuple(register)


def crc16_value(message, width):
    """Return the CRC-16 of the ``width``-bit value ``message`` as a 16-bit value.

    Each CRC bit is one XOR tree over the message bits that enter it (combinational).
    """
    taps = crc16_taps(width)
    return Cat(*((message & Const(mask, width)).xor() for mask in taps))
