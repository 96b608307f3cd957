"""Floating-point datapath of the tensor core: operand decoding, FP32 multiply, FP32 add.

Everything rounds like IEEE 754 binary32 with round to nearest even and gradual underflow
(subnormal inputs, products and sums; no flush to zero); overflow gives infinity. Every NaN
result is the quiet NaN ``0x7FC00000``.

Internal operand format
-----------------------
Operands of every format are decoded at the edge of the array into one *internal* format
(:func:`internal_layout`): FP32's sign and 8-bit exponent with a fraction of
``significand_width - 1`` bits, where ``significand_width`` is that of the widest format built
in. It holds every value of every enabled format exactly (FP16 subnormals become normal numbers),
so the multiplier only ever sees FP32-range numbers with short significands: 8 x 8 bit products
for BF16 alone, 24 x 24 with FP32.

Pipelines
---------
The multiplier and the adder are each four combinational steps (:data:`MUL_STEPS`,
:data:`ADD_STEPS`); ``stages`` pipeline registers go after the last step and at evenly spread
boundaries between steps (:func:`register_boundaries`). A pipeline advances every cycle where
``enable`` is high (always, if ``enable`` is ``None``); a ``sideband`` dictionary of values
(valid bits, tags) travels through the same registers.

Multiplier steps: unpack and multiply significands; normalise the product (leading-zero count
and left shift); shift right into the subnormal range with a sticky bit; round and pack.
Adder steps: unpack and order the operands by magnitude; align the smaller one (3 guard bits
and a sticky bit) and add or subtract; normalise (one right shift on carry, or a left shift
limited so the exponent does not go below the subnormal one); round and pack.
"""

from amaranth.hdl import C, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .fp_config import ADD_STEPS, FORMATS, MUL_STEPS, Precision

__all__ = ["internal_layout", "decode_operand", "leading_zeros", "register_boundaries",
           "Pipeline", "fp_multiply", "fp_add", "FPUnitHarness", "CANONICAL_NAN", "NEG_ZERO"]

CANONICAL_NAN = 0x7FC00000
NEG_ZERO = 0x80000000
_INF = 0x7F800000


def internal_layout(significand_width):
    """Return the layout of a decoded operand: FP32 with a ``significand_width - 1`` fraction."""
    return data.StructLayout({
        "frac": unsigned(significand_width - 1),
        "exp": unsigned(8),
        "sign": unsigned(1),
    })


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
    """Return the step boundaries (1 .. ``steps - 1``) that get a register, besides the output.

    ``stages - 1`` boundaries, spread evenly.
    """
    if not 1 <= stages <= steps:
        raise ValueError(f"stages must be from 1 to {steps}, not {stages!r}")
    return {round(s * steps / stages) for s in range(1, stages)}


class Pipeline:
    """Insert registers at the chosen boundaries of a combinational datapath.

    Parameters
    ----------
    m : Module
    name : str
        Prefix of the register names.
    stages, steps : int
        Registers in all, and combinational steps of the datapath.
    enable : Value or None
        Clock enable of every register (``None``: always).
    control : set of str
        Keys whose registers are reset (valid bits); the others are reset-less.
    """

    def __init__(self, m, *, name, stages, steps, enable=None, control=()):
        self._m = m
        self._name = name
        self._steps = steps
        self._cuts = register_boundaries(stages, steps) | {steps}
        self._enable = enable
        self._control = set(control)

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


def decode_operand(m, bits, precision, *, significand_width, precisions, name):
    """Decode one operand of format ``precision`` into the internal format, exactly.

    Parameters
    ----------
    bits : Value
        The operand's pattern, right-aligned.
    precision : Value
        A :class:`Precision`. A format that is not built in decodes as a quiet NaN.
    precisions : tuple of str
        The formats built in.

    Returns
    -------
    View of :func:`internal_layout`, combinational.
    """
    frac_width = significand_width - 1
    out = Signal(internal_layout(significand_width), name=name)
    codes = {"fp32": Precision.FP32, "tf32p": Precision.TF32P, "tf32": Precision.TF32,
             "fp16": Precision.FP16, "bf16": Precision.BF16}
    with m.Switch(precision):
        for fmt_name in precisions:
            fmt = FORMATS[fmt_name]
            f = fmt.frac_bits
            pad = frac_width - f
            with m.Case(codes[fmt_name]):
                m.d.comb += out.sign.eq(bits[fmt.width - 1])
                if fmt.exp_bits == 8:
                    m.d.comb += [
                        out.exp.eq(bits[f:f + 8]),
                        out.frac.eq(Cat(Const(0, pad), bits[:f])),
                    ]
                else:  # FP16: 5-bit exponent, bias 15
                    e5, f10 = bits[10:15], bits[:10]
                    lz = _comb(m, f"{name}_fp16_lz", unsigned(4), leading_zeros(f10))
                    with m.If(e5 == 31):
                        m.d.comb += [out.exp.eq(255), out.frac.eq(Cat(Const(0, pad), f10))]
                    with m.Elif(e5 != 0):
                        m.d.comb += [out.exp.eq(e5 + 112),
                                     out.frac.eq(Cat(Const(0, pad), f10))]
                    with m.Elif(f10 != 0):
                        # Subnormal: f10 * 2^-24 is normal in FP32.
                        shifted = (f10 << (lz + 1))[:10]
                        m.d.comb += [out.exp.eq(112 - lz),
                                     out.frac.eq(Cat(Const(0, pad), shifted))]
                    with m.Else():
                        m.d.comb += [out.exp.eq(0), out.frac.eq(0)]
        with m.Default():
            m.d.comb += [out.sign.eq(0), out.exp.eq(255),
                         out.frac.eq(1 << (frac_width - 1))]
    return out


def _right_shift_sticky(value, amount):
    """Return ``(value >> amount, bits shifted out != 0)`` with ``amount`` clamped to the width."""
    width = len(value)
    ones = Const((1 << width) - 1, width)
    mask = ~(ones << amount)
    return value >> amount, (value & mask[:width]) != 0


def fp_multiply(m, a, b, *, significand_width, stages, name, enable=None, sideband=None,
                control=()):
    """Build an FP32 multiplier of two internal-format operands.

    Returns ``(product, sideband)``: the FP32 pattern of ``a * b`` rounded to nearest even, and
    the sideband values, both ``stages`` cycles after ``a`` and ``b``.
    """
    w = significand_width
    pipe = Pipeline(m, name=name, stages=stages, steps=MUL_STEPS, enable=enable, control=control)
    sb = dict(sideband or {})

    # Step 1: unpack, classify, multiply significands.
    def classify(op):
        top = op.exp == 0xFF
        return top & (op.frac != 0), top & (op.frac == 0), (op.exp == 0) & (op.frac == 0)

    a_nan, a_inf, a_zero = classify(a)
    b_nan, b_inf, b_zero = classify(b)
    nan = a_nan | b_nan | (a_inf & b_zero) | (a_zero & b_inf)
    inf = (a_inf | b_inf) & ~nan
    zero = (a_zero | b_zero) & ~nan & ~inf
    ma = Cat(a.frac, a.exp != 0)
    mb = Cat(b.frac, b.exp != 0)
    ea = Mux(a.exp == 0, 1, a.exp)
    eb = Mux(b.exp == 0, 1, b.exp)
    v = pipe.boundary(1, sb | {
        "product": _comb(m, f"{name}_product", unsigned(2 * w), ma * mb),
        "exp_sum": _comb(m, f"{name}_exp_sum", unsigned(9), ea + eb),
        "sign": _comb(m, f"{name}_sign", 1, a.sign ^ b.sign),
        "nan": _comb(m, f"{name}_nan", 1, nan),
        "inf": _comb(m, f"{name}_inf", 1, inf),
        "zero": _comb(m, f"{name}_zero", 1, zero),
    })

    # Step 2: normalise the product so that its leading one is the top bit.
    lz = _comb(m, f"{name}_lz", unsigned(ceil_log2(2 * w + 1)), leading_zeros(v["product"]))
    exp_sum = _comb(m, f"{name}_exp_sum_s", signed(11), v["exp_sum"])
    flags = {k: v[k] for k in v if k not in ("product", "exp_sum")}
    v = pipe.boundary(2, flags | {
        "norm": _comb(m, f"{name}_norm", unsigned(2 * w), (v["product"] << lz)[:2 * w]),
        "exp": _comb(m, f"{name}_exp", signed(11), exp_sum - 126 - lz),
    })

    # Step 3: below the normal range, shift right into the subnormal position (sticky kept).
    frame = max(2 * w, 26)
    framed = Cat(Const(0, frame - 2 * w), v["norm"]) if frame > 2 * w else v["norm"]
    exp = v["exp"]
    tiny = _comb(m, f"{name}_tiny", 1, exp < 1)
    amount = _comb(m, f"{name}_denorm", unsigned(ceil_log2(frame + 1)),
                   Mux(tiny, Mux(exp < 1 - frame, frame, 1 - exp), 0))
    shifted, lost = _right_shift_sticky(framed, amount)
    flags = {k: v[k] for k in v if k not in ("norm", "exp")}
    v = pipe.boundary(3, flags | {
        "sig": _comb(m, f"{name}_sig", unsigned(24), shifted[frame - 24:]),
        "guard": _comb(m, f"{name}_guard", 1, shifted[frame - 25]),
        "sticky": _comb(m, f"{name}_sticky", 1, (shifted[:frame - 25] != 0) | lost),
        "exp_base": _comb(m, f"{name}_exp_base", unsigned(10), Mux(tiny, 0, exp - 1)),
    })

    # Step 4: round to nearest even and pack; overflow gives infinity.
    sig = v["sig"]
    round_up = v["guard"] & (v["sticky"] | sig[0])
    mag = _comb(m, f"{name}_mag", unsigned(34), (v["exp_base"] << 23) + sig + round_up)
    result = Signal(32, name=f"{name}_result")
    with m.If(v["nan"]):
        m.d.comb += result.eq(CANONICAL_NAN)
    with m.Elif(v["inf"] | (mag >= _INF)):
        m.d.comb += result.eq(Cat(Const(_INF, 31), v["sign"]))
    with m.Elif(v["zero"]):
        m.d.comb += result.eq(Cat(Const(0, 31), v["sign"]))
    with m.Else():
        m.d.comb += result.eq(Cat(mag[:31], v["sign"]))
    flags = {k: v[k] for k in sb}
    out = pipe.boundary(MUL_STEPS, flags | {"result": result})
    return out.pop("result"), out


def fp_add(m, x, y, *, stages, name, enable=None, sideband=None, control=()):
    """Build an FP32 adder of two FP32 patterns.

    Returns ``(sum, sideband)``: the FP32 pattern of ``x + y`` rounded to nearest even, and the
    sideband values, both ``stages`` cycles after ``x`` and ``y``.
    """
    pipe = Pipeline(m, name=name, stages=stages, steps=ADD_STEPS, enable=enable, control=control)
    sb = dict(sideband or {})

    # Step 1: unpack, classify, order by magnitude.
    def classify(op):
        top = op[23:31] == 0xFF
        return top & (op[:23] != 0), top & (op[:23] == 0)

    x_nan, x_inf = classify(x)
    y_nan, y_inf = classify(y)
    subtract = x[31] ^ y[31]
    nan = x_nan | y_nan | (x_inf & y_inf & subtract)
    swap = _comb(m, f"{name}_swap", 1, y[:31] > x[:31])
    big = _comb(m, f"{name}_big", 32, Mux(swap, y, x))
    small = _comb(m, f"{name}_small", 32, Mux(swap, x, y))
    e_big = Mux(big[23:31] == 0, 1, big[23:31])
    e_small = Mux(small[23:31] == 0, 1, small[23:31])
    v = pipe.boundary(1, sb | {
        "sig_big": _comb(m, f"{name}_sig_big", 24, Cat(big[:23], big[23:31] != 0)),
        "sig_small": _comb(m, f"{name}_sig_small", 24, Cat(small[:23], small[23:31] != 0)),
        "exp_big": _comb(m, f"{name}_exp_big", 8, e_big),
        "diff": _comb(m, f"{name}_diff", 8, e_big - e_small),
        "subtract": _comb(m, f"{name}_subtract", 1, subtract),
        "sign": _comb(m, f"{name}_sign", 1, big[31]),
        "zero_sign": _comb(m, f"{name}_zero_sign", 1, x[31] & y[31]),
        "nan": _comb(m, f"{name}_nan", 1, nan),
        "inf": _comb(m, f"{name}_inf", 1, (x_inf | y_inf) & ~nan),
    })

    # Step 2: align the smaller operand (3 guard bits + sticky), add or subtract.
    wide_big = Cat(Const(0, 3), v["sig_big"])
    wide_small = Cat(Const(0, 3), v["sig_small"])
    diff = v["diff"]
    amount = _comb(m, f"{name}_align", unsigned(5), Mux(diff > 27, 27, diff))
    aligned, lost = _right_shift_sticky(wide_small, amount)
    addend = _comb(m, f"{name}_addend", 27, aligned | lost)
    total = Mux(v["subtract"], wide_big - addend, wide_big + addend)
    flags = {k: v[k] for k in v if k not in ("sig_big", "sig_small", "diff", "subtract")}
    v = pipe.boundary(2, flags | {"total": _comb(m, f"{name}_total", 28, total)})

    # Step 3: normalise: right by one on carry, else left, no lower than the subnormal exponent.
    total = v["total"]
    carry = total[27]
    lz = _comb(m, f"{name}_lz", unsigned(5), leading_zeros(total[:27]))
    limit = _comb(m, f"{name}_limit", unsigned(8), v["exp_big"] - 1)
    shift = _comb(m, f"{name}_shift", unsigned(5), Mux(lz > limit, limit, lz))
    normal = _comb(m, f"{name}_normal", 27, (total[:27] << shift)[:27])
    flags = {k: v[k] for k in v if k not in ("total", "exp_big")}
    v = pipe.boundary(3, flags | {
        "sig": _comb(m, f"{name}_sig", 24, Mux(carry, total[4:28], normal[3:27])),
        "guard": _comb(m, f"{name}_guard", 1, Mux(carry, total[3], normal[2])),
        "sticky": _comb(m, f"{name}_sticky", 1,
                        Mux(carry, total[:3] != 0, normal[:2] != 0)),
        "exp_base": _comb(m, f"{name}_exp_base", 9,
                          Mux(carry, v["exp_big"], v["exp_big"] - 1 - shift)),
        "is_zero": _comb(m, f"{name}_is_zero", 1, total == 0),
    })

    # Step 4: round to nearest even and pack.
    sig = v["sig"]
    round_up = v["guard"] & (v["sticky"] | sig[0])
    mag = _comb(m, f"{name}_mag", unsigned(34), (v["exp_base"] << 23) + sig + round_up)
    result = Signal(32, name=f"{name}_result")
    with m.If(v["nan"]):
        m.d.comb += result.eq(CANONICAL_NAN)
    with m.Elif(v["inf"] | (mag >= _INF)):
        m.d.comb += result.eq(Cat(Const(_INF, 31), v["sign"]))
    with m.Elif(v["is_zero"]):
        m.d.comb += result.eq(Cat(Const(0, 31), v["zero_sign"]))
    with m.Else():
        m.d.comb += result.eq(Cat(mag[:31], v["sign"]))
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
    mul_stages, add_stages : int
        Pipeline registers, 1..4 each.
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
