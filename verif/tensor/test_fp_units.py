"""cocotb tests of the FP32 multiplier and adder as single units (:class:`FPUnitHarness`).

Every beat carries a multiplier pair in a random built-in precision and an FP32 adder pair; both
results are compared bit-exact (NaN as the canonical quiet NaN) with numpy float32 arithmetic
from :mod:`verif.models.fp`, under random valid gaps and ready backpressure. The pairs mix
uniformly random patterns, special values, subnormals, operands whose product lands at the
underflow or overflow boundary, near-cancelling sums and every alignment distance.
"""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hdl.tensor.fp import FPUnitHarness
from hdl.tensor.fp_config import FPTensorCoreConfig
from verif.models.fp import (
    FORMATS,
    canonical,
    product_reference,
    random_operands,
    sum_reference,
)
from verif.stream import CycleCounter, StreamMonitor, StreamSink, StreamSource
from verif.tensor.tb import soak_factor

OUTPUT_LAYOUT = {"product": 32, "sum": 32}


def _params():
    return json.loads(os.environ.get("BRGPU_PARAMS", "{}"))


def _config():
    params = _params()
    return FPTensorCoreConfig(precisions=tuple(params["precisions"]),
                              mul_stages=params["mul_stages"], add_stages=params["add_stages"])


def multiplier_pairs(rng, precision, count):
    """Return ``count`` operand pairs of ``precision`` that cover every rounding situation."""
    fmt = FORMATS[precision]
    kinds = ["normal", "bits", "special", "tiny", "huge"]
    a = np.concatenate([random_operands(rng, precision, (count,), kind=k) for k in kinds])
    b = np.concatenate([random_operands(rng, precision, (count,), kind=kinds[(i + 2) % 5])
                        for i, k in enumerate(kinds)])
    # Exponent sums at the FP32 underflow and overflow boundaries.
    bias32 = 127
    ea = rng.integers(1, fmt.exp_max, size=count)
    target = np.where(rng.random(count) < 0.7, rng.integers(-26, 3, size=count),
                      rng.integers(252, 257, size=count))
    # Unbiased FP32 exponent of the product ~ (ea - bias) + (eb - bias) = target - bias32.
    eb = np.clip(target - bias32 - (ea - fmt.bias) + fmt.bias, 1, fmt.exp_max - 1)
    frac = rng.integers(0, 1 << fmt.frac_bits, size=(2, count))
    sign = rng.integers(0, 2, size=(2, count))
    a = np.concatenate([a, fmt.encode(sign[0], ea, frac[0])])
    b = np.concatenate([b, fmt.encode(sign[1], eb, frac[1])])
    order = rng.permutation(len(a))
    return a[order], b[order]


def adder_pairs(rng, count):
    """Return ``count`` FP32 pairs: random, special, cancelling and at every alignment."""
    fp32 = FORMATS["fp32"]
    kinds = ["normal", "bits", "special", "tiny", "huge"]
    x = np.concatenate([random_operands(rng, "fp32", (count,), kind=k) for k in kinds])
    y = np.concatenate([random_operands(rng, "fp32", (count,), kind=kinds[(i + 1) % 5])
                        for i, k in enumerate(kinds)])
    base = random_operands(rng, "fp32", (count,), kind="bits")
    # Near-cancelling: the negation with a few low bits flipped.
    close = base ^ np.uint32(0x80000000) ^ rng.integers(0, 16, size=count).astype(np.uint32)
    # Every alignment distance 0..31 from a random operand (exponent kept in range).
    exp = (base >> np.uint32(23)) & np.uint32(0xFF)
    distance = rng.integers(0, 32, size=count)
    exp2 = np.clip(exp.astype(np.int64) - distance, 0, 254)
    aligned = fp32.encode(rng.integers(0, 2, size=count), exp2,
                          rng.integers(0, 1 << 23, size=count))
    x = np.concatenate([x, base, base])
    y = np.concatenate([y, close, aligned])
    order = rng.permutation(len(x))
    return x[order], y[order]


@cocotb.test()
async def test_random_and_special_pairs(dut):
    """Random and special operand pairs, bit-exact against numpy, under gaps and backpressure."""
    cfg = _config()
    params = _params()
    rng = random.Random(cocotb.RANDOM_SEED)
    np_rng = np.random.default_rng(cocotb.RANDOM_SEED)
    total = int(params.get("pairs", 2000)) * soak_factor()
    i_layout = FPUnitHarness.input_layout(cfg)
    from amaranth.lib import data
    o_layout = data.StructLayout(OUTPUT_LAYOUT)
    valid_prob, ready_prob = rng.choice([0.5, 0.9, 1.0]), rng.choice([0.5, 0.9, 1.0])
    dut._log.info("%d pairs, precisions %s, stages mul=%d add=%d, valid %.2f ready %.2f",
                  total, cfg.precisions, cfg.mul_stages, cfg.add_stages, valid_prob, ready_prob)
    clk, rst = dut.clk, dut.rst
    counter = CycleCounter(clk)
    source = StreamSource(dut, "i", clk, i_layout, rng=rng, valid_prob=valid_prob, reset=rst)
    sink = StreamSink(dut, "o", clk, o_layout, rng=rng, ready_prob=ready_prob, reset=rst)
    monitors = [StreamMonitor(dut, "i", clk, i_layout, reset=rst),
                StreamMonitor(dut, "o", clk, o_layout, reset=rst)]
    Clock(clk, 10, unit="ns").start()
    cocotb.start_soon(counter.run())
    cocotb.start_soon(source.run(counter))
    cocotb.start_soon(sink.run(counter))
    for monitor in monitors:
        cocotb.start_soon(monitor.run(counter))
    rst.value = 1
    await ClockCycles(clk, 3)
    rst.value = 0

    per_precision = total // len(cfg.precisions)
    xs, ys = adder_pairs(np_rng, max(1, per_precision * len(cfg.precisions) // 7 + 1))
    beats = []
    for precision in cfg.precisions:
        a, b = multiplier_pairs(np_rng, precision, max(1, per_precision // 6 + 1))
        products = canonical(product_reference(a, b, precision))
        code = FPTensorCoreConfig.precision_code(precision)
        beats += [(code, int(p), int(q), int(r)) for p, q, r in zip(a, b, products, strict=True)]
    order = np_rng.permutation(len(beats))
    beats = [beats[i] for i in order]
    n = min(len(beats), len(xs))
    beats, xs, ys = beats[:n], xs[:n], ys[:n]
    sums = canonical(sum_reference(xs, ys))
    for (code, a, b, _), x, y in zip(beats, xs, ys, strict=True):
        source.send({"a": a, "b": b, "x": int(x), "y": int(y), "precision": code.value})
    dut._log.info("%d beats queued", n)
    checked = 0
    deadline = counter.cycle + 40 * n + 1000
    while checked < n:
        while sink.received:
            beat = sink.received.popleft()
            code, a, b, want_product = beats[checked]
            x, y, want_sum = int(xs[checked]), int(ys[checked]), int(sums[checked])
            assert beat["product"] == want_product, (
                f"beat {checked}: {code.name} {a:#x} * {b:#x} = {beat['product']:#010x}, "
                f"numpy {want_product:#010x}")
            assert beat["sum"] == want_sum, (
                f"beat {checked}: {x:#010x} + {y:#010x} = {beat['sum']:#010x}, "
                f"numpy {want_sum:#010x}")
            checked += 1
        assert counter.cycle < deadline, f"timeout: {checked} of {n} results"
        await RisingEdge(clk)
    await ClockCycles(clk, 8)
    assert not sink.received, f"extra results: {list(sink.received)[:2]}"
    for monitor in monitors:
        assert not monitor.errors, monitor.errors
    dut._log.info("%d products and %d sums bit-exact", n, n)
