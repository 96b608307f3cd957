"""Unit tests of the floating-point golden model against exact rational arithmetic.

The checks here do not trust numpy: values are decoded from their fields with
:class:`fractions.Fraction`, and results are rounded to FP32 by a small round-to-nearest-even
routine written from IEEE 754 (gradual underflow, overflow to infinity).
"""

from fractions import Fraction

import numpy as np
import pytest

from verif.models.fp import (
    CANONICAL_NAN,
    FORMATS,
    canonical,
    float32_bits,
    is_nan_bits,
    product_reference,
    random_operands,
    special_operands,
    sum_reference,
    tile_reference,
    to_float32,
)

INF = 0x7F800000
NEG = 0x80000000


def _exact(bits, precision):
    """Decode one pattern from its fields: a Fraction, or 'inf', '-inf', 'nan'."""
    fmt = FORMATS[precision]
    bits = int(bits)
    sign = -1 if bits >> (fmt.width - 1) & 1 else 1
    exponent = bits >> fmt.frac_bits & fmt.exp_max
    fraction = bits & ((1 << fmt.frac_bits) - 1)
    if exponent == fmt.exp_max:
        return "nan" if fraction else ("inf" if sign > 0 else "-inf")
    if exponent == 0:
        value = Fraction(fraction, 1 << fmt.frac_bits) * Fraction(2) ** (1 - fmt.bias)
    else:
        value = (1 + Fraction(fraction, 1 << fmt.frac_bits)) * Fraction(2) ** (exponent - fmt.bias)
    return sign * value, sign


def _round_fp32(value, zero_sign):
    """Round a Fraction to the nearest FP32 pattern (ties to even); ``zero_sign`` for 0."""
    if value == 0:
        return NEG if zero_sign < 0 else 0
    sign = NEG if value < 0 else 0
    mag = abs(value)
    # Find e with 2^e <= mag < 2^(e+1); below the normal range use the subnormal quantum.
    e = mag.numerator.bit_length() - mag.denominator.bit_length()
    if Fraction(2) ** e > mag:
        e -= 1
    e = max(e, -126)
    quantum = Fraction(2) ** (e - 23)
    scaled = mag / quantum
    integer = scaled.numerator // scaled.denominator
    rest = scaled - integer
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and integer & 1):
        integer += 1
    if integer == 1 << 24:  # carried into the next binade
        integer, e = 1 << 23, e + 1
    if e > 127:
        return sign | INF
    if integer < 1 << 23:  # subnormal
        return sign | integer
    return sign | ((e + 127) << 23) | (integer - (1 << 23))


def _exact_product(a, b, precision):
    x, y = _exact(a, precision), _exact(b, precision)
    if "nan" in (x, y):
        return CANONICAL_NAN
    inf_x, inf_y = isinstance(x, str), isinstance(y, str)
    sx = -1 if (x == "-inf" if inf_x else x[1] < 0) else 1
    sy = -1 if (y == "-inf" if inf_y else y[1] < 0) else 1
    if inf_x or inf_y:
        if (not inf_x and x[0] == 0) or (not inf_y and y[0] == 0):
            return CANONICAL_NAN
        return (NEG if sx * sy < 0 else 0) | INF
    return _round_fp32(x[0] * y[0], sx * sy)


def _exact_sum(a, b):
    x, y = _exact(a, "fp32"), _exact(b, "fp32")
    if "nan" in (x, y):
        return CANONICAL_NAN
    infs = [v for v in (x, y) if isinstance(v, str)]
    if infs:
        if len(set(infs)) == 2:
            return CANONICAL_NAN
        return INF | (NEG if infs[0] == "-inf" else 0)
    total = x[0] + y[0]
    if total == 0:
        # Exact zero: -0 only when both addends are -0 (round to nearest even).
        zero_sign = -1 if (x[1] < 0 and y[1] < 0 and x[0] == 0 and y[0] == 0) else 1
        return _round_fp32(total, zero_sign)
    return _round_fp32(total, 1)


def _mixed_operands(rng, precision, count):
    kinds = ["normal", "bits", "special", "tiny", "huge"]
    parts = [random_operands(rng, precision, (count,), kind=kind) for kind in kinds]
    values = np.concatenate(parts)
    return values[rng.permutation(len(values))]


@pytest.mark.parametrize("precision", list(FORMATS))
def test_conversion_is_exact(precision):
    rng = np.random.default_rng(1)
    fmt = FORMATS[precision]
    patterns = np.concatenate([special_operands(precision),
                               random_operands(rng, precision, (2000,), kind="bits")])
    converted = to_float32(patterns, precision)
    for bits, value in zip(patterns, converted, strict=True):
        want = _exact(bits, precision)
        if want == "nan":
            assert np.isnan(value)
        elif isinstance(want, str):
            assert value == (np.inf if want == "inf" else -np.inf)
        else:
            assert Fraction(float(value)) == want[0], hex(bits)
            assert np.signbit(value) == (want[1] < 0)
    if precision == "fp16":
        with pytest.raises(ValueError, match="16 bits"):
            to_float32([1 << fmt.width], precision)


def test_conversion_examples():
    assert to_float32([0x3F80], "bf16")[0] == 1.0
    assert to_float32([127 << 10], "tf32")[0] == 1.0
    assert to_float32([127 << 15], "tf32p")[0] == 1.0
    assert to_float32([0x3C00], "fp16")[0] == 1.0
    assert to_float32([0x0001], "fp16")[0] == np.float32(2.0 ** -24)  # FP16 subnormal
    assert to_float32([0x0001], "bf16")[0] == np.float32(2.0 ** -133)  # BF16 subnormal
    assert to_float32([0x7C00], "fp16")[0] == np.inf
    assert np.isnan(to_float32([0x7E00], "fp16")[0])
    assert float32_bits(to_float32([0x8000], "fp16"))[0] == NEG
    with pytest.raises(ValueError, match="precision must be one of"):
        to_float32([0], "int8")


@pytest.mark.parametrize("precision", list(FORMATS))
def test_products_round_like_ieee(precision):
    rng = np.random.default_rng(2)
    a = _mixed_operands(rng, precision, 600)
    b = _mixed_operands(rng, precision, 600)
    got = canonical(product_reference(a, b, precision))
    for x, y, value in zip(a, b, got, strict=True):
        assert int(value) == _exact_product(x, y, precision), (hex(x), hex(y), hex(value))


def test_sums_round_like_ieee():
    rng = np.random.default_rng(3)
    x = _mixed_operands(rng, "fp32", 1500)
    y = _mixed_operands(rng, "fp32", 1500)
    # Near-cancelling pairs: y = -x with a few low bits changed.
    close = (x[:2000] ^ np.uint32(NEG)) ^ rng.integers(0, 8, size=2000).astype(np.uint32)
    x, y = np.concatenate([x, x[:2000]]), np.concatenate([y, close])
    got = canonical(sum_reference(x, y))
    for p, q, value in zip(x, y, got, strict=True):
        assert int(value) == _exact_sum(p, q), (hex(p), hex(q), hex(value))


def test_special_cases_by_hand():
    min_sub, min_norm, max_fin = 0x00000001, 0x00800000, 0x7F7FFFFF
    half, one, two, three = 0x3F000000, 0x3F800000, 0x40000000, 0x40400000

    def mul(a, b):
        return int(canonical(product_reference([a], [b], "fp32"))[0])

    def add(a, b):
        return int(canonical(sum_reference([a], [b]))[0])

    assert mul(0, one | NEG) == NEG                         # signed zero
    assert mul(NEG, NEG) == 0
    assert mul(INF, 0) == CANONICAL_NAN                     # inf * 0
    assert mul(INF | NEG, two | NEG) == INF                 # -inf * -2
    assert mul(max_fin, two) == INF                         # overflow
    assert mul(max_fin | NEG, max_fin) == INF | NEG
    assert mul(min_sub, half) == 0                          # tie to even: 0
    assert mul(3, half) == 2                                # 1.5 ulp: tie to even 2
    assert mul(min_norm, half) == 0x00400000                # normal to subnormal, exact
    assert mul(0x00400000, two) == min_norm                 # subnormal to normal
    assert mul(0x7FC00000, 0) == CANONICAL_NAN
    assert add(0, NEG) == 0                                 # +0 + -0 = +0
    assert add(NEG, NEG) == NEG
    assert add(three, three | NEG) == 0                     # x - x = +0
    assert add(INF, INF | NEG) == CANONICAL_NAN
    assert add(max_fin, max_fin) == INF
    assert add(min_norm, min_sub | NEG) == 0x007FFFFF       # result subnormal
    assert add(min_sub, min_sub) == 2
    assert add(one, 0x33800000) == one                      # 1 + 2^-24: tie, stays even
    assert add(0x3F800001, 0x33800000) == 0x3F800002        # tie rounds up to even


def test_tile_reference_order_and_zero_sign():
    one, big = 0x3F800000, 0x4B800000  # 2^24
    # K order: (2^24 + 1) - 2^24 = 0, whereas 2^24 - 2^24 + 1 = 1.
    a = np.array([[big, one, big | NEG]], dtype=np.uint32)
    b = np.array([[one], [one], [one]], dtype=np.uint32)
    assert tile_reference(a, b, "fp32")[0, 0] == 0
    a2 = np.array([[big, big | NEG, one]], dtype=np.uint32)
    assert tile_reference(a2, b, "fp32")[0, 0] == one
    # A single product keeps its zero sign; -0 + +0 gives +0.
    assert tile_reference([[NEG]], [[one]], "fp32")[0, 0] == NEG
    assert tile_reference([[NEG, 0]], [[one], [one]], "fp32")[0, 0] == 0
    assert tile_reference([[0x7F800000, 0xFF800000]], [[one], [one]], "fp32")[0, 0] == \
        CANONICAL_NAN


@pytest.mark.parametrize("precision", list(FORMATS))
def test_tile_reference_matches_scalar_loop(precision):
    rng = np.random.default_rng(4)
    a = random_operands(rng, precision, (3, 300), kind="normal")
    b = random_operands(rng, precision, (300, 2), kind="normal")
    got = tile_reference(a, b, precision)
    fa, fb = to_float32(a, precision), to_float32(b, precision)
    for i in range(3):
        for j in range(2):
            acc = Fraction(0)
            for k in range(300):
                # Exact product (fits FP32 for these formats except tf32p/fp32, then rounded).
                p = _exact_product(a[i, k], b[k, j], precision)
                acc_bits = _round_fp32(acc + Fraction(float(np.uint32(p).view(np.float32))), 1)
                acc = Fraction(float(np.uint32(acc_bits).view(np.float32)))
            assert int(got[i, j]) == acc_bits, (i, j)
    assert fa.dtype == fb.dtype == np.float32


def test_canonical_and_nan_detection():
    bits = np.array([0x7F800001, 0xFFC00000, 0x7F800000, 0x12345678], dtype=np.uint32)
    assert is_nan_bits(bits).tolist() == [True, True, False, False]
    assert canonical(bits).tolist() == [CANONICAL_NAN, CANONICAL_NAN, 0x7F800000, 0x12345678]


def test_random_operands_kinds():
    rng = np.random.default_rng(5)
    for precision, fmt in FORMATS.items():
        for kind in ("normal", "bits", "special", "tiny", "huge"):
            values = random_operands(rng, precision, (50,), kind=kind)
            assert values.dtype == np.uint32 and values.shape == (50,)
            assert int(values.max()) < 1 << fmt.width
        normal = to_float32(random_operands(rng, precision, (200,)), precision)
        assert np.all(np.isfinite(normal)) and np.all(normal != 0)
    with pytest.raises(ValueError, match="kind must be"):
        random_operands(rng, "bf16", (2,), kind="odd")
