"""Floating-point datapath of the tensor core: operand decoding, FP32 multiply, FP32 add.

Everything rounds like IEEE 754 binary32 with round to nearest even and gradual underflow
(subnormal inputs, products and sums; no flush to zero); overflow gives infinity. Every NaN
result is the quiet NaN ``0x7FC00000``.

Internal operand format
-----------------------
Operands of every format are decoded at the edge of the array into one *normalised* internal
format (:func:`internal_layout`): a sign, a 10-bit signed exponent with FP32's bias, a fraction
of ``significand_width - 1`` bits below an implicit leading one, and ``zero``/``inf``/``nan``
flags. Subnormal inputs (of every format) are normalised there, once per array row and column,
so a processing element's multiplier never needs a leading-zero count: the product of two
significands in ``[1, 2)`` lies in ``[1, 4)``.

Pipelines
---------
The multiplier has :data:`MUL_STEPS` and the adder :data:`ADD_STEPS` combinational steps of
roughly known delay (:data:`MUL_STEP_DELAYS`, :data:`ADD_STEP_DELAYS`, ns on an ECP5);
``stages`` pipeline registers go after the last step and at the step boundaries that balance
the stage delays best (:func:`register_boundaries`). A pipeline advances every cycle where
``enable`` is high (always, if ``enable`` is ``None``); a ``sideband`` dictionary of values
(valid bits, tags) travels through the same registers.

Multiplier steps: (1) significand product (a DSP multiplier) and exponent sum; (2) normalise
by one bit, final exponent, subnormal shift distance; (3) shift right into the subnormal range
with a sticky bit; (4) round to nearest even and pack.

Adder steps: (1) classify, magnitude compare and swap, exponent difference; (2) align the
smaller significand (3 guard bits and a sticky bit); (3) add or subtract; (4) leading-zero
count, limited so that the exponent stays at or above the subnormal one; (5) normalise shift;
(6) round to nearest even and pack.
"""

from amaranth.hdl import C, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .fp_config import ADD_STEPS, FORMATS, MUL_STEPS, Precision

__all__ = ["internal_layout", "pe_operand_layout", "decode_operand", "decode_pe_operand",
           "leading_zeros", "register_boundaries", "Pipeline", "fp_multiply", "fp_add",
           "FPUnitHarness", "CANONICAL_NAN", "NEG_ZERO", "MUL_STEP_DELAYS", "ADD_STEP_DELAYS"]

CANONICAL_NAN = 0x7FC00000
NEG_ZERO = 0x80000000
_INF = 0x7F800000

#: Estimated delay (ns, ECP5 -6, routing included) of each multiplier step.
MUL_STEP_DELAYS = (5, 3, 4, 4)
#: Estimated delay (ns, ECP5 -6, routing included) of each adder step; the first includes the
#: accumulator's addend multiplexer in front of the adder.
ADD_STEP_DELAYS = (6, 5, 3, 4, 4, 4)
assert len(MUL_STEP_DELAYS) == MUL_STEPS and len(ADD_STEP_DELAYS) == ADD_STEPS


def internal_layout(significand_width):
    """Return the layout of a decoded operand.

    ``(-1)**sign * 1.frac * 2**(exp - 127)`` unless one of ``zero``, ``inf``, ``nan`` is set;
    ``frac`` has ``significand_width - 1`` bits, ``exp`` is signed (subnormal inputs have
    exponents below 1).
    """
    return data.StructLayout({
        "frac": unsigned(significand_width - 1),
        "exp": signed(10),
        "sign": unsigned(1),
        "zero": unsigned(1),
        "inf": unsigned(1),
        "nan": unsigned(1),
    })


def pe_operand_layout(significand_width, int8_lanes=0):
    """Return the layout of an operand as it travels through the array.

    A union: ``fp`` is the decoded floating-point operand (:func:`internal_layout`); with
    ``int8_lanes`` (1 or 2), ``int8`` overlays the same bits with that many signed 8-bit
    values (K indices ``k, k + 1``, lane 0 in the low bits) for INT8 K steps.
    """
    members = {"fp": internal_layout(significand_width)}
    if int8_lanes:
        members["int8"] = data.ArrayLayout(signed(8), int8_lanes)
    return data.UnionLayout(members)


def decode_pe_operand(m, bits, precision, *, significand_width, precisions, int8_lanes, name):
    """Decode one operand element of the ``a`` or ``b`` stream for the array.

    Floating-point formats go through :func:`decode_operand` into the ``fp`` view; with INT8
    built in (``int8_lanes`` > 0) and ``precision`` INT8, the element's low ``8 * int8_lanes``
    bits go into the ``int8`` view unchanged. Returns a combinational view of
    :func:`pe_operand_layout`.
    """
    out = Signal(pe_operand_layout(significand_width, int8_lanes), name=name)
    decoded = decode_operand(m, bits, precision, significand_width=significand_width,
                             precisions=precisions, name=f"{name}_fp")
    if int8_lanes:
        with m.If(precision == Precision.INT8):
            m.d.comb += out.int8.eq(bits[:8 * int8_lanes])
        with m.Else():
            m.d.comb += out.fp.eq(decoded)
    else:
        m.d.comb += out.fp.eq(decoded)
    return out


def leading_zeros(value):
    """Return the count of leading zeros of ``value`` (its width when zero), as a tree."""
    n = len(value)
    k = max(1, ceil_log2(n))
    width = 1 << k
    if width > n:
        # Ones below the value stop the count at n when the value is zero.
        value = Cat(Const((1 << (width - n)) - 1, width - n), value)

    def tree(v):
        if len(v) == 2:
            return ~v[1], v == 0
        half = len(v) // 2
        count_hi, zero_hi = tree(v[half:])
        count_lo, zero_lo = tree(v[:half])
        return Mux(zero_hi, Cat(count_lo, C(1, 1)), Cat(count_hi, C(0, 1))), zero_hi & zero_lo

    count, zero = tree(value)
    return Mux(zero, width, count)


def register_boundaries(stages, steps):
    """Return the step boundaries (1 .. ``len(steps) - 1``) that get a register, besides the output.

    ``steps`` is the number of steps (all of equal delay) or a sequence of step delays. The
    ``stages - 1`` boundaries split the steps into ``stages`` groups whose largest total delay
    is as small as possible (ties: the smallest sum of squared group delays, then the earliest
    boundaries).
    """
    delays = [1] * steps if isinstance(steps, int) else list(steps)
    n = len(delays)
    if not isinstance(stages, int) or not 1 <= stages <= n:
        raise ValueError(f"stages must be from 1 to {n}, not {stages!r}")
    best = None
    # Few steps: try every placement.
    from itertools import combinations
    for cuts in combinations(range(1, n), stages - 1):
        edges = (0, *cuts, n)
        groups = [sum(delays[edges[g]:edges[g + 1]]) for g in range(stages)]
        key = (max(groups), sum(x * x for x in groups), cuts)
        if best is None or key < best[0]:
            best = (key, set(cuts))
    return best[1]


class Pipeline:
    """Insert registers at the chosen boundaries of a combinational datapath.

    Parameters
    ----------
    m : Module
    name : str
        Prefix of the register names.
    stages : int
        Registers in all.
    steps : int or sequence of numbers
        The combinational steps of the datapath: their count, or their delays (see
        :func:`register_boundaries`).
    enable : Value or None
        Clock enable of every register (``None``: always).
    control : set of str
        Keys whose registers are reset (valid bits); the others are reset-less.
    """

    def __init__(self, m, *, name, stages, steps, enable=None, control=()):
        self._m = m
        self._name = name
        count = steps if isinstance(steps, int) else len(steps)
        self._cuts = register_boundaries(stages, steps) | {count}
        self._enable = enable
        self._control = set(control)

    @property
    def cuts(self):
        """The step boundaries with a register (the last step's output included)."""
        return set(self._cuts)

    def boundary(self, index, values):
        """Return ``values`` registered if boundary ``index`` (after step ``index``) has one."""
        if index not in self._cuts:
            return values
        out = {}
        for key, value in values.items():
            reg = Signal(value.shape(), name=f"{self._name}_s{index}_{key}",
                         reset_less=key not in self._control)
            if self._enable is None:
                self._m.d.sync += reg.eq(value)
            else:
                with self._m.If(self._enable):
                    self._m.d.sync += reg.eq(value)
            out[key] = reg
        return out


def _comb(m, name, shape, value):
    sig = Signal(shape, name=name)
    m.d.comb += sig.eq(value)
    return sig


_CODES = {"fp32": Precision.FP32, "tf32p": Precision.TF32P, "tf32": Precision.TF32,
          "fp16": Precision.FP16, "bf16": Precision.BF16}


def decode_operand(m, bits, precision, *, significand_width, precisions, name):
    """Decode one operand of format ``precision`` into the internal format, exactly.

    The format's fields are selected first (fraction left-aligned, exponent rebiased to FP32's
    bias), then one shared leading-zero count and shift normalise a subnormal input.

    Parameters
    ----------
    bits : Value
        The operand's pattern, right-aligned.
    precision : Value
        A :class:`Precision`. A format that is not built in decodes as a NaN.
    precisions : tuple of str
        The formats built in.

    Returns
    -------
    View of :func:`internal_layout`, combinational.
    """
    fw = significand_width - 1
    out = Signal(internal_layout(significand_width), name=name)
    sign = Signal(name=f"{name}_sign")
    e_zero = Signal(name=f"{name}_e_zero")
    e_top = Signal(name=f"{name}_e_top")
    rebias = Signal(8, name=f"{name}_rebias")     # 127 - the format's bias
    exp_field = Signal(8, name=f"{name}_e")
    frac = Signal(fw, name=f"{name}_frac")        # left-aligned
    invalid = Signal(name=f"{name}_invalid")
    with m.Switch(precision):
        for fmt_name in precisions:
            fmt = FORMATS[fmt_name]
            f, e = fmt.frac_bits, fmt.exp_bits
            with m.Case(_CODES[fmt_name]):
                field = bits[f:f + e]
                m.d.comb += [
                    sign.eq(bits[fmt.width - 1]),
                    e_zero.eq(field == 0),
                    e_top.eq(field == (1 << e) - 1),
                    rebias.eq(127 - ((1 << (e - 1)) - 1)),
                    exp_field.eq(field),
                    frac.eq(Cat(Const(0, fw - f), bits[:f]) if fw > f else bits[:f]),
                ]
        with m.Default():
            m.d.comb += invalid.eq(1)
    frac_zero = frac == 0
    lz = _comb(m, f"{name}_lz", unsigned(ceil_log2(fw + 1) + 1), leading_zeros(frac))
    # A subnormal 0.frac * 2^(1 - bias) is 1.(frac << lz + 1) * 2^(-bias - lz).
    m.d.comb += [
        out.sign.eq(sign),
        out.nan.eq(invalid | (e_top & ~frac_zero)),
        out.inf.eq(~invalid & e_top & frac_zero),
        out.zero.eq(~invalid & e_zero & frac_zero),
        out.exp.eq(Mux(e_zero, rebias - lz, exp_field + rebias)),
        out.frac.eq(Mux(e_zero, (frac << (lz + 1))[:fw], frac)),
    ]
    return out


def _right_shift_sticky(value, amount):
    """Return ``(value >> amount, bits shifted out != 0)``; ``amount`` beyond the width is fine."""
    width = len(value)
    ones = Const((1 << width) - 1, width)
    mask = ~(ones << amount)
    return value >> amount, (value & mask[:width]) != 0


def _round_pack(m, name, sig, guard, sticky, field, overflow, sign, specials):
    """Round ``sig`` (24 bits, hidden bit on top) to nearest even and pack it.

    ``field`` is the exponent field of the unrounded value (0 for a subnormal); rounding may
    carry into it. ``specials`` is a list of ``(condition, pattern)`` tried first.
    """
    round_up = guard & (sticky | sig[0])
    mag = _comb(m, f"{name}_mag", unsigned(32), Cat(sig[:23], field[:8]) + round_up)
    result = Signal(32, name=f"{name}_result")
    with m.If(specials[0][0]):
        m.d.comb += result.eq(specials[0][1])
    for condition, pattern in specials[1:]:
        with m.Elif(condition):
            m.d.comb += result.eq(pattern)
    # The field is at most 255 before rounding: all ones (or a carry out of it) is infinity.
    with m.Elif(overflow | mag[31] | (mag[23:31] == 0xFF)):
        m.d.comb += result.eq(Cat(Const(_INF, 31), sign))
    with m.Else():
        m.d.comb += result.eq(Cat(mag[:31], sign))
    return result


def fp_multiply(m, a, b, *, significand_width, stages, name, enable=None, sideband=None,
                control=(), int8=None):
    """Build an FP32 multiplier of two internal-format operands.

    Returns ``(product, sideband)``: the FP32 pattern of ``a * b`` rounded to nearest even, and
    the sideband values, both ``stages`` cycles after ``a`` and ``b``. When the significands
    are at most 12 bits wide (BF16, FP16, TF32) the product is exact in 24 bits and only a
    subnormal product is rounded.

    ``int8``, if given, is ``(a_lanes, b_lanes, select)``: arrays of 1 or 2 signed 8-bit values
    and a 1-bit value. Where ``select`` is high the significand multiplier (made a signed
    ``significand_width + 1`` bit multiplier) takes lane 0 instead of the significands, a
    second 8x8 multiplier takes lane 1, and the sideband gets ``int_product``, the exact
    17-bit signed dot product ``sum(a_lanes[i] * b_lanes[i])`` (the floating-point result is
    then meaningless).
    """
    w = significand_width
    pipe = Pipeline(m, name=name, stages=stages, steps=MUL_STEP_DELAYS, enable=enable,
                    control=control)
    sb = dict(sideband or {})

    # Step 1: special cases, significand product, exponent sum.
    nan = a.nan | b.nan | (a.inf & b.zero) | (a.zero & b.inf)
    inf = (a.inf | b.inf) & ~nan
    zero = (a.zero | b.zero) & ~nan & ~inf
    sig_a, sig_b = Cat(a.frac, C(1, 1)), Cat(b.frac, C(1, 1))
    int_fields = {}
    if int8 is None:
        product = _comb(m, f"{name}_product", unsigned(2 * w), sig_a * sig_b)
    else:
        a_lanes, b_lanes, select = int8
        # One multiplier for both: zero-extended significands or sign-extended INT8 lane 0.
        mul_a = _comb(m, f"{name}_mul_a", signed(w + 1), Mux(select, a_lanes[0], sig_a))
        mul_b = _comb(m, f"{name}_mul_b", signed(w + 1), Mux(select, b_lanes[0], sig_b))
        product = _comb(m, f"{name}_product", signed(2 * w + 2), mul_a * mul_b)
        if len(a_lanes) > 1:
            int_fields["int_hi"] = _comb(m, f"{name}_int_hi", signed(16),
                                         a_lanes[1] * b_lanes[1])
    v = pipe.boundary(1, sb | int_fields | {
        "product": product,
        # Biased exponent of the product if its significand is in [2, 4).
        "exp_sum": _comb(m, f"{name}_exp_sum", signed(11), a.exp + b.exp - 126),
        "sign": _comb(m, f"{name}_sign", 1, a.sign ^ b.sign),
        "nan": _comb(m, f"{name}_nan", 1, nan),
        "inf": _comb(m, f"{name}_inf", 1, inf),
        "zero": _comb(m, f"{name}_zero", 1, zero),
    })

    # Step 2: normalise by one bit; the final exponent; how far below the normal range.
    if int8 is not None:
        # The INT8 dot product: lane 0 from the shared multiplier, plus lane 1. It fits in
        # 17 bits (at most 2 * 128 * 128), so the truncating assignment is exact.
        int_fields = {"int_product": _comb(m, f"{name}_int_product", signed(17),
                                           v["product"] + v.get("int_hi", 0))}
    product = v["product"][:2 * w]
    top = product[2 * w - 1]
    frame = max(2 * w, 26)
    exp = _comb(m, f"{name}_exp", signed(11), v["exp_sum"] - 1 + top)
    tiny = exp < 1
    flags = {k: v[k] for k in v if k not in ("product", "exp_sum", "int_hi")}
    v = pipe.boundary(2, flags | int_fields | {
        "norm": _comb(m, f"{name}_norm", unsigned(2 * w), Mux(top, product, product << 1)),
        "tiny": _comb(m, f"{name}_tiny", 1, tiny),
        "field": _comb(m, f"{name}_field", 8, Mux(tiny, 0, exp[:8])),
        "over": _comb(m, f"{name}_over", 1, exp > 254),
        "denorm": _comb(m, f"{name}_denorm", unsigned(ceil_log2(frame + 1)),
                        Mux(tiny, Mux(exp < 1 - frame, frame, 1 - exp), 0)),
    })

    # Step 3: below the normal range, shift right into the subnormal position (sticky kept).
    framed = Cat(Const(0, frame - 2 * w), v["norm"]) if frame > 2 * w else v["norm"]
    shifted, lost = _right_shift_sticky(framed, v["denorm"])
    flags = {k: v[k] for k in v if k not in ("norm", "denorm", "tiny")}
    v = pipe.boundary(3, flags | {
        "sig": _comb(m, f"{name}_sig", unsigned(24), shifted[frame - 24:]),
        "guard": _comb(m, f"{name}_guard", 1, shifted[frame - 25]),
        "sticky": _comb(m, f"{name}_sticky", 1,
                        ((shifted[:frame - 25] != 0) if frame > 25 else 0) | lost),
    })

    # Step 4: round to nearest even and pack; overflow gives infinity.
    result = _round_pack(m, name, v["sig"], v["guard"], v["sticky"], v["field"], v["over"],
                         v["sign"], [(v["nan"], CANONICAL_NAN),
                                     (v["inf"], Cat(Const(_INF, 31), v["sign"])),
                                     (v["zero"], Cat(Const(0, 31), v["sign"]))])
    flags = {k: v[k] for k in sb}
    if int8 is not None:
        flags["int_product"] = v["int_product"]
    out = pipe.boundary(MUL_STEPS, flags | {"result": result})
    return out.pop("result"), out


def fp_add(m, x, y, *, stages, name, enable=None, sideband=None, control=()):
    """Build an FP32 adder of two FP32 patterns.

    Returns ``(sum, sideband)``: the FP32 pattern of ``x + y`` rounded to nearest even, and the
    sideband values, both ``stages`` cycles after ``x`` and ``y``.
    """
    pipe = Pipeline(m, name=name, stages=stages, steps=ADD_STEP_DELAYS, enable=enable,
                    control=control)
    sb = dict(sideband or {})

    # Step 1: classify; order by magnitude; both exponent differences, in parallel.
    def classify(op):
        top = op[23:31] == 0xFF
        return top & (op[:23] != 0), top & (op[:23] == 0)

    x_nan, x_inf = classify(x)
    y_nan, y_inf = classify(y)
    subtract = x[31] ^ y[31]
    nan = x_nan | y_nan | (x_inf & y_inf & subtract)
    swap = _comb(m, f"{name}_swap", 1, y[:31] > x[:31])
    ex = Mux(x[23:31] == 0, 1, x[23:31])
    ey = Mux(y[23:31] == 0, 1, y[23:31])
    big = _comb(m, f"{name}_big", 32, Mux(swap, y, x))
    small = _comb(m, f"{name}_small", 32, Mux(swap, x, y))
    v = pipe.boundary(1, sb | {
        "sig_big": _comb(m, f"{name}_sig_big", 24, Cat(big[:23], big[23:31] != 0)),
        "sig_small": _comb(m, f"{name}_sig_small", 24, Cat(small[:23], small[23:31] != 0)),
        "exp_big": _comb(m, f"{name}_exp_big", 8, Mux(swap, ey, ex)),
        "diff": _comb(m, f"{name}_diff", 8, Mux(swap, ey - ex, ex - ey)),
        "subtract": _comb(m, f"{name}_subtract", 1, subtract),
        "sign": _comb(m, f"{name}_sign", 1, big[31]),
        "zero_sign": _comb(m, f"{name}_zero_sign", 1, x[31] & y[31]),
        "nan": _comb(m, f"{name}_nan", 1, nan),
        "inf": _comb(m, f"{name}_inf", 1, (x_inf | y_inf) & ~nan),
    })

    # Step 2: align the smaller significand (3 guard bits + sticky in the lowest bit).
    wide_small = Cat(Const(0, 3), v["sig_small"])
    diff = v["diff"]
    far = diff[5:] != 0  # 32 or more: everything shifts out
    aligned, lost = _right_shift_sticky(wide_small, diff[:5])
    flags = {k: v[k] for k in v if k not in ("sig_small", "diff")}
    v = pipe.boundary(2, flags | {
        "addend": _comb(m, f"{name}_addend", 27,
                        Mux(far, v["sig_small"] != 0, aligned | lost)),
    })

    # Step 3: add or subtract (one adder: big + (addend ^ s) + s); the limit of the
    # normalisation, as a one-hot stop bit for the leading-zero count.
    s = v["subtract"]
    wide_big = Cat(Const(0, 3), v["sig_big"])
    total = (wide_big + Cat(v["addend"] ^ s.replicate(27), s) + s)[:28]
    # Left shifts allowed before the exponent reaches 1.
    limit = _comb(m, f"{name}_limit", unsigned(8), v["exp_big"] - 1)
    stop = _comb(m, f"{name}_stop", 27, Mux(limit < 27, Const(1 << 26, 27) >> limit, 0))
    flags = {k: v[k] for k in v if k not in ("sig_big", "addend", "subtract")}
    v = pipe.boundary(3, flags | {
        "total": _comb(m, f"{name}_total", 28, total),
        "stop": stop,
    })

    # Step 4: leading zeros of the sum, at most the limit.
    total = v["total"]
    lz = _comb(m, f"{name}_lz", unsigned(5), leading_zeros(total[:27] | v["stop"]))
    flags = {k: v[k] for k in v if k != "stop"}
    v = pipe.boundary(4, flags | {"lz": lz})

    # Step 5: normalise: right by one on carry, else left by the limited count.
    total, lz, exp_big = v["total"], v["lz"], v["exp_big"]
    carry = total[27]
    normal = _comb(m, f"{name}_normal", 27, (total[:27] << lz)[:27])
    flags = {k: v[k] for k in v if k not in ("total", "lz", "exp_big")}
    v = pipe.boundary(5, flags | {
        "sig": _comb(m, f"{name}_sig", 24, Mux(carry, total[4:28], normal[3:27])),
        "guard": _comb(m, f"{name}_guard", 1, Mux(carry, total[3], normal[2])),
        "sticky": _comb(m, f"{name}_sticky", 1,
                        Mux(carry, total[:3] != 0, normal[:2] != 0)),
        # Exponent field before rounding: 0 when the limited shift leaves a subnormal.
        "field": _comb(m, f"{name}_field", 8,
                       Mux(carry, exp_big + 1, Mux(normal[26], exp_big - lz, 0))),
        "is_zero": _comb(m, f"{name}_is_zero", 1, total == 0),
    })

    # Step 6: round to nearest even and pack.
    result = _round_pack(m, name, v["sig"], v["guard"], v["sticky"], v["field"], 0, v["sign"],
                         [(v["nan"], CANONICAL_NAN),
                          (v["inf"], Cat(Const(_INF, 31), v["sign"])),
                          (v["is_zero"], Cat(Const(0, 31), v["zero_sign"]))])
    flags = {k: v[k] for k in sb}
    out = pipe.boundary(ADD_STEPS, flags | {"result": result})
    return out.pop("result"), out


class FPUnitHarness(wiring.Component):
    """A multiplier and an adder side by side behind streams, to test them as single units.

    Each input beat carries an operand pair ``a``, ``b`` of format ``precision`` for the
    multiplier (decoded as in the tensor core) and an FP32 pair ``x``, ``y`` for the adder; each
    output beat carries ``product = a * b`` and ``sum = x + y`` of the same input beat. The two
    pipelines (``mul_stages``, ``add_stages`` registers) stall together while the output is
    not accepted.

    Parameters
    ----------
    precisions : tuple of str
        Formats the multiplier decodes (see :class:`FPTensorCoreConfig`).
    mul_stages : int
        Pipeline registers of the multiplier, 1..4.
    add_stages : int
        Pipeline registers of the adder, 1..6.
    """

    def __init__(self, *, precisions=tuple(FORMATS), mul_stages=2, add_stages=2):
        from .fp_config import FPTensorCoreConfig
        try:
            config = FPTensorCoreConfig(precisions=precisions, mul_stages=mul_stages,
                                        add_stages=add_stages)
        except (TypeError, ValueError):
            self._MustUse__silence = True
            raise
        self._config = config
        super().__init__({
            "i": In(stream.Signature(self.input_layout(config))),
            "o": Out(stream.Signature(data.StructLayout({"product": 32, "sum": 32}))),
        })

    @staticmethod
    def input_layout(config):
        """Return the input payload layout for ``config``."""
        return data.StructLayout({
            "a": config.operand_width,
            "b": config.operand_width,
            "x": 32,
            "y": 32,
            "precision": Precision,
        })

    @property
    def config(self):
        """The formats and pipeline depths, as an :class:`FPTensorCoreConfig`."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        w = cfg.significand_width
        enable = Signal()
        m.d.comb += [enable.eq(~self.o.valid | self.o.ready), self.i.ready.eq(enable)]
        accepted = self.i.valid & enable
        a = decode_operand(m, self.i.payload.a, self.i.payload.precision, significand_width=w,
                           precisions=cfg.precisions, name="dec_a")
        b = decode_operand(m, self.i.payload.b, self.i.payload.precision, significand_width=w,
                           precisions=cfg.precisions, name="dec_b")
        depth = max(cfg.mul_stages, cfg.add_stages)
        product, mul_sb = fp_multiply(m, a, b, significand_width=w, stages=cfg.mul_stages,
                                      name="mul", enable=enable,
                                      sideband={"valid": accepted}, control={"valid"})
        total, _ = fp_add(m, self.i.payload.x, self.i.payload.y, stages=cfg.add_stages,
                          name="add", enable=enable)
        valid = mul_sb["valid"]
        for n in range(depth - cfg.mul_stages):
            reg, valid_reg = Signal(32, name=f"mul_pad{n}"), Signal(name=f"valid_pad{n}")
            with m.If(enable):
                m.d.sync += [reg.eq(product), valid_reg.eq(valid)]
            product, valid = reg, valid_reg
        for n in range(depth - cfg.add_stages):
            reg = Signal(32, name=f"add_pad{n}")
            with m.If(enable):
                m.d.sync += reg.eq(total)
            total = reg
        m.d.comb += [
            self.o.valid.eq(valid),
            self.o.payload.product.eq(product),
            self.o.payload.sum.eq(total),
        ]
        return m
