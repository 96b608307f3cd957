"""Golden model of the floating-point tensor core, written from the spec with numpy float32.

Formats are handled as bit patterns in unsigned integer arrays, right-aligned:

=========  ===================  =====  ===========================================
name       sign/exponent/frac   bits   conversion to FP32 (exact)
=========  ===================  =====  ===========================================
``fp32``   1 + 8 + 23           32     the pattern itself
``tf32p``  1 + 8 + 15           24     pattern << 8 (TF32+; our assumed layout)
``tf32``   1 + 8 + 10           19     pattern << 13
``bf16``   1 + 8 + 7            16     pattern << 16
``fp16``   1 + 5 + 10           16     ``numpy.float16`` to ``numpy.float32``
=========  ===================  =====  ===========================================

Arithmetic is numpy float32 arithmetic, which is IEEE 754 binary32 with round to nearest even,
gradual underflow (no flush to zero) and overflow to infinity:

* every product is ``np.float32(a) * np.float32(b)``;
* a dot product accumulates in K order, ``acc = np.float32(acc + product)``, starting from
  ``-0.0``, the additive identity of IEEE arithmetic (``-0.0 + x == x`` for every ``x``,
  including ``+0.0``), so the sum of a single product is that product, sign of zero included.

NaN payloads are not modelled: :func:`canonical` maps every NaN to the quiet NaN
``0x7FC00000``, which is what the hardware produces for every NaN result.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["FloatFormat", "FORMATS", "PRECISIONS", "CANONICAL_NAN", "to_float32",
           "float32_bits", "bits_to_float32", "canonical", "is_nan_bits", "product_reference",
           "sum_reference", "tile_reference", "random_operands", "special_operands"]

CANONICAL_NAN = 0x7FC00000


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: sign bit, ``exp_bits`` exponent, ``frac_bits`` fraction."""

    name: str
    exp_bits: int
    frac_bits: int

    @property
    def width(self):
        """Bits of one encoded value."""
        return 1 + self.exp_bits + self.frac_bits

    @property
    def bias(self):
        """Exponent bias."""
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def exp_max(self):
        """The all-ones exponent field (infinities and NaNs)."""
        return (1 << self.exp_bits) - 1

    def encode(self, sign, exponent, fraction):
        """Return the bit pattern with the given fields (arrays broadcast)."""
        sign = np.asarray(sign, dtype=np.uint64)
        exponent = np.asarray(exponent, dtype=np.uint64)
        fraction = np.asarray(fraction, dtype=np.uint64)
        return ((sign << np.uint64(self.width - 1)) | (exponent << np.uint64(self.frac_bits))
                | fraction).astype(np.uint32)


FORMATS = {
    "fp32": FloatFormat("fp32", 8, 23),
    "tf32p": FloatFormat("tf32p", 8, 15),
    "tf32": FloatFormat("tf32", 8, 10),
    "bf16": FloatFormat("bf16", 8, 7),
    "fp16": FloatFormat("fp16", 5, 10),
}
PRECISIONS = tuple(FORMATS)


def _format(precision):
    try:
        return FORMATS[precision]
    except (KeyError, TypeError):
        raise ValueError(
            f"precision must be one of {', '.join(FORMATS)}, not {precision!r}") from None


def bits_to_float32(bits):
    """Return FP32 bit patterns (``uint32``) as ``numpy.float32`` values."""
    return np.ascontiguousarray(np.asarray(bits, dtype=np.uint32)).view(np.float32)


def float32_bits(values):
    """Return the bit patterns (``uint32``) of ``numpy.float32`` values."""
    return np.ascontiguousarray(np.asarray(values, dtype=np.float32)).view(np.uint32)


def to_float32(bits, precision):
    """Convert bit patterns of ``precision`` to ``numpy.float32``, exactly.

    Raises
    ------
    ValueError
        If a pattern has bits above the format's width.
    """
    fmt = _format(precision)
    bits = np.asarray(bits, dtype=np.uint64)
    if bits.size and int(bits.max()) >> fmt.width:
        raise ValueError(f"{precision} patterns are {fmt.width} bits wide; got "
                         f"{int(bits.max()):#x}")
    if precision == "fp16":
        return np.ascontiguousarray(bits.astype(np.uint16)).view(np.float16).astype(np.float32)
    shift = 32 - fmt.width
    return bits_to_float32((bits << np.uint64(shift)).astype(np.uint32))


def is_nan_bits(bits):
    """Return where FP32 patterns are NaNs."""
    bits = np.asarray(bits, dtype=np.uint32)
    return (bits & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)


def canonical(bits):
    """Return FP32 patterns with every NaN replaced by :data:`CANONICAL_NAN`."""
    bits = np.asarray(bits, dtype=np.uint32)
    return np.where(is_nan_bits(bits), np.uint32(CANONICAL_NAN), bits).astype(np.uint32)


def product_reference(a_bits, b_bits, precision):
    """Return the FP32 patterns of ``np.float32(a) * np.float32(b)``, element-wise."""
    with np.errstate(all="ignore"):
        product = to_float32(a_bits, precision) * to_float32(b_bits, precision)
    return float32_bits(product)


def sum_reference(x_bits, y_bits):
    """Return the FP32 patterns of ``np.float32(x + y)`` for FP32 patterns, element-wise."""
    with np.errstate(all="ignore"):
        total = bits_to_float32(x_bits) + bits_to_float32(y_bits)
    return float32_bits(total)


def tile_reference(a_bits, b_bits, precision):
    """Return ``C = A . B`` accumulated in FP32 in K order, as FP32 patterns.

    Parameters
    ----------
    a_bits : array_like, shape (rows, K)
        Patterns of ``precision``.
    b_bits : array_like, shape (K, cols)
    precision : str or sequence of str
        The format of the operands, or one format per K step.

    Returns
    -------
    numpy.ndarray of uint32, shape (rows, cols)
        Canonical patterns (see :func:`canonical`).
    """
    a_bits = np.asarray(a_bits)
    b_bits = np.asarray(b_bits)
    if a_bits.ndim != 2 or b_bits.ndim != 2 or a_bits.shape[1] != b_bits.shape[0]:
        raise ValueError(f"a and b must be (rows, K) and (K, cols), not {a_bits.shape} and "
                         f"{b_bits.shape}")
    k = a_bits.shape[1]
    precisions = [precision] * k if isinstance(precision, str) else list(precision)
    if len(precisions) != k:
        raise ValueError(f"{len(precisions)} precisions for K={k}")
    acc = np.full((a_bits.shape[0], b_bits.shape[1]), -0.0, dtype=np.float32)
    with np.errstate(all="ignore"):
        for step, prec in enumerate(precisions):
            a = to_float32(a_bits[:, step], prec)
            b = to_float32(b_bits[step, :], prec)
            product = a[:, None] * b[None, :]
            acc = acc + product
            assert acc.dtype == np.float32 and product.dtype == np.float32
    return canonical(float32_bits(acc))


def special_operands(precision):
    """Return the special values of ``precision`` as bit patterns (``uint32``).

    Zeros of both signs, the smallest and largest subnormals, the smallest normal, one, the
    largest finite value, infinities and NaNs (quiet and signalling), each with both signs.
    """
    fmt = _format(precision)
    frac_max = (1 << fmt.frac_bits) - 1
    fields = [
        (0, 0), (0, 1), (0, frac_max), (0, 1 << (fmt.frac_bits - 1)), (1, 0), (1, frac_max),
        (fmt.bias, 0), (fmt.bias, 1), (fmt.exp_max - 1, frac_max), (fmt.exp_max - 1, 0),
        (fmt.exp_max, 0), (fmt.exp_max, 1 << (fmt.frac_bits - 1)), (fmt.exp_max, 1),
        (fmt.bias - 1, frac_max),
    ]
    values = [fmt.encode(s, e, f) for s in (0, 1) for e, f in fields]
    return np.array(values, dtype=np.uint32)


def random_operands(rng, precision, shape, *, kind="normal", special_fraction=0.25):
    """Return random bit patterns of ``precision``.

    Parameters
    ----------
    rng : numpy.random.Generator
    precision : str
    shape : tuple of int
    kind : str
        ``"normal"``: finite values with exponents near 1.0 (products and sums stay normal);
        ``"bits"``: uniformly random patterns (every class, mostly huge or tiny values);
        ``"special"``: special values (:func:`special_operands`) mixed with ``"bits"`` values at
        rate ``1 - special_fraction``; ``"tiny"``: subnormals and the smallest normals;
        ``"huge"``: values near the largest finite value.
    """
    fmt = _format(precision)
    sign = rng.integers(0, 2, size=shape)
    fraction = rng.integers(0, 1 << fmt.frac_bits, size=shape)
    if kind == "normal":
        spread = min(6, fmt.bias - 1)
        exponent = rng.integers(fmt.bias - spread, fmt.bias + spread + 1, size=shape)
        return fmt.encode(sign, exponent, fraction)
    if kind == "bits":
        return rng.integers(0, 1 << fmt.width, size=shape, dtype=np.uint64).astype(np.uint32)
    if kind == "tiny":
        exponent = rng.integers(0, 3, size=shape)
        return fmt.encode(sign, exponent, fraction)
    if kind == "huge":
        exponent = rng.integers(fmt.exp_max - 3, fmt.exp_max, size=shape)
        return fmt.encode(sign, exponent, fraction)
    if kind == "special":
        specials = special_operands(precision)
        picks = specials[rng.integers(0, len(specials), size=shape)]
        others = rng.integers(0, 1 << fmt.width, size=shape, dtype=np.uint64).astype(np.uint32)
        chosen = rng.random(size=shape) < special_fraction
        return np.where(chosen, picks, others).astype(np.uint32)
    raise ValueError(f"kind must be one of normal, bits, special, tiny, huge, not {kind!r}")
