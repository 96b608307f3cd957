"""cocotb tests of the floating-point tensor core against the numpy float32 golden model.

Run through ``tests/test_fp_core.py``; the configuration arrives in ``BRGPU_PARAMS``. Every
random choice comes from the logged seed (``SEED=n``); longer runs with ``SOAK=n``.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, RisingEdge, Timer

from verif.models import tensor as int8_model
from verif.models.fp import FORMATS, random_operands
from verif.payload import encode
from verif.tensor.fp_tb import FPTensorCoreTB, fp_config_from_env
from verif.tensor.tb import soak_factor

#: INT8 tiles: the fraction of operands at -128 or 127, per kind of tile.
_INT8_EXTREMES = {"normal": 0.05, "special": 1.0, "tiny": 0.0, "huge": 0.5, "bits": 0.1}


def _params():
    return json.loads(os.environ.get("BRGPU_PARAMS", "{}"))


def _operands(tb, precision, k, kind="normal", **kwargs):
    """Return random A and B of a tile of ``k`` K steps in ``precision``.

    INT8 tiles carry ``int8_lanes`` K indices per step (signed integers; ``kind`` picks the
    share of -128/127 extremes), floating-point tiles bit patterns of ``kind``.
    """
    cfg = tb.config
    if precision == "int8":
        k_int = k * cfg.int8_lanes
        a, b = int8_model.random_operands(tb.np_rng, cfg.tile_rows, cfg.cols, k_int,
                                          signed=True, extremes=_INT8_EXTREMES[kind])
        if kind == "tiny":
            a, b = a // 64, b // 64   # -2..1: small sums, many zeros
        return a, b
    a = random_operands(tb.np_rng, precision, (cfg.tile_rows, k), kind=kind, **kwargs)
    b = random_operands(tb.np_rng, precision, (k, cfg.cols), kind=kind, **kwargs)
    return a, b


def _steps(tb, a, precision):
    """Return the K steps of a tile whose A is ``a``."""
    return a.shape[1] // tb.config.int8_lanes if precision == "int8" else a.shape[1]


async def _run_tiles(tb, tiles):
    """Send ``(a, b, precision)`` tiles back to back and check every result row."""
    for a, b, precision in tiles:
        tb.send_tile(a, b, precision)
    k_total = sum(a.shape[1] for a, _, _ in tiles)
    return await tb.wait_results(tb.budget(k_total) + 400 * len(tiles))


@cocotb.test()
async def test_random_tiles(dut):
    """Per precision: tiles of random normal values with K from 1 to 40, under stress."""
    cfg = fp_config_from_env()
    tb = FPTensorCoreTB(dut, cfg)
    await tb.start()
    for precision in cfg.precisions:
        ks = [1, 2, 3] + [int(tb.np_rng.integers(4, 41)) for _ in range(2 * soak_factor())]
        await _run_tiles(tb, [(*_operands(tb, precision, k), precision) for k in ks])
        dut._log.info("%s: %d random tiles bit-exact", precision, len(ks))


@cocotb.test()
async def test_special_values(dut):
    """Per precision: tiles full of zeros, subnormals, max finite, infinities and NaNs."""
    cfg = fp_config_from_env()
    tb = FPTensorCoreTB(dut, cfg)
    await tb.start()
    for precision in cfg.float_precisions:
        tiles = []
        for _ in range(soak_factor()):
            # Specials only, specials mixed with random patterns, tiny and huge magnitudes.
            tiles.append((*_operands(tb, precision, 6, "special", special_fraction=1.0),
                          precision))
            tiles.append((*_operands(tb, precision, 9, "special", special_fraction=0.5),
                          precision))
            tiles.append((*_operands(tb, precision, 7, "tiny"), precision))
            tiles.append((*_operands(tb, precision, 5, "huge"), precision))
            tiles.append((*_operands(tb, precision, 8, "bits"), precision))
            fmt = FORMATS[precision]
            # Zeros of both signs times finite values: signed-zero sums.
            a, b = _operands(tb, precision, 4)
            a &= np.uint32(1 << (fmt.width - 1))
            tiles.append((a, b, precision))
            # Positive values and one row of +inf in B: infinite sums.
            a, b = _operands(tb, precision, 5)
            a &= np.uint32((1 << (fmt.width - 1)) - 1)
            b &= np.uint32((1 << (fmt.width - 1)) - 1)
            b[int(tb.np_rng.integers(0, 5))] = fmt.encode(0, fmt.exp_max, 0)
            tiles.append((a, b, precision))
            if fmt.exp_bits == 8:
                # Products and sums in FP32's subnormal range (2^-126 .. 2^-149).
                rng, shape_a, shape_b = tb.np_rng, (cfg.tile_rows, 6), (6, cfg.cols)
                a = fmt.encode(rng.integers(0, 2, size=shape_a),
                               rng.integers(fmt.bias - 66, fmt.bias - 60, size=shape_a),
                               rng.integers(0, 1 << fmt.frac_bits, size=shape_a))
                b = fmt.encode(rng.integers(0, 2, size=shape_b),
                               rng.integers(fmt.bias - 80, fmt.bias - 64, size=shape_b),
                               rng.integers(0, 1 << fmt.frac_bits, size=shape_b))
                tiles.append((a, b, precision))
        results = await _run_tiles(tb, tiles)
        flat = np.concatenate([r.ravel() for r in results])
        nans = int(np.count_nonzero((flat & 0x7FFFFFFF) > 0x7F800000))
        infs = int(np.count_nonzero((flat & 0x7FFFFFFF) == 0x7F800000))
        zeros = int(np.count_nonzero((flat & 0x7FFFFFFF) == 0))
        subnormals = int(np.count_nonzero(((flat & 0x7F800000) == 0) & ((flat & 0x7FFFFF) != 0)))
        dut._log.info("%s: %d special tiles bit-exact (%d NaN, %d inf, %d zero, %d subnormal "
                      "results)", precision, len(tiles), nans, infs, zeros, subnormals)
        assert nans and infs and zeros, "the special tiles must produce NaN, inf and zero results"
        if FORMATS[precision].exp_bits == 8:
            assert subnormals, "the tiny tile must produce subnormal results"


@cocotb.test()
async def test_int8_extremes(dut):
    """INT8: tiles of -128/127 only, mixed with random values, zeros; under stress."""
    cfg = fp_config_from_env()
    assert cfg.has_int8, "this test needs a design with int8 in its precisions"
    tb = FPTensorCoreTB(dut, cfg)
    await tb.start()
    tiles = []
    for _ in range(soak_factor()):
        for kind, k in (("special", 64), ("special", 1), ("huge", 9), ("tiny", 5)):
            tiles.append((*_operands(tb, "int8", k, kind), "int8"))
        # Every product -128 * -128 = +2^14: the largest sums that do not wrap.
        a, b = _operands(tb, "int8", 8)
        tiles.append((np.full_like(a, -128), np.full_like(b, -128), "int8"))
    results = await _run_tiles(tb, tiles)
    signed = np.concatenate([r.ravel() for r in results]).astype(np.int64)
    signed = np.where(signed >= 1 << 31, signed - (1 << 32), signed)
    dut._log.info("int8: %d extreme tiles bit-exact, sums from %d to %d", len(tiles),
                  int(signed.min()), int(signed.max()))
    assert (results[-1] == 8 * cfg.int8_lanes * 16384).all()


@cocotb.test()
async def test_int8_wrap(dut):
    """INT8: a tile of -128/127 long enough that INT32 sums wrap around, both ways.

    Row ``i`` of A and column ``j`` of B hold one value each for the whole of K, chosen so
    that the sums grow past ``2**31`` (products ``+2**14``) or below ``-2**31`` (products
    ``-16256``) or stay small. The K steps before the last one are streamed with valid held
    high and a constant payload, without a Python driver per cycle (65,000+ K steps): the
    stream drivers, monitors and model then take the last K step and check every result row.
    """
    cfg = fp_config_from_env()
    assert cfg.has_int8, "this test needs a design with int8 in its precisions"
    lanes = cfg.int8_lanes
    # Steps so that -16256 per lane and step passes -2^31 (and 2^14 per lane passes 2^31).
    steps = int(_params().get("wrap_steps", (1 << 31) // (16256 * lanes) + 8))
    tb = FPTensorCoreTB(dut, cfg, stress=False)
    values = [-128, 127]
    a_rows = [values[int(tb.np_rng.integers(0, 2))] for _ in range(cfg.rows)]
    b_cols = [values[int(tb.np_rng.integers(0, 2))] for _ in range(cfg.cols)]
    a_rows[0], b_cols[0] = -128, -128    # at least one sum wraps upwards
    if cfg.rows > 1:
        a_rows[1] = 127
    a_tile = np.array([[a_rows[r % cfg.rows]] * (steps * lanes) for r in range(cfg.tile_rows)])
    b_tile = np.array([b_cols] * (steps * lanes))
    expected = int8_model.tile_reference(a_tile, b_tile, signed=True)
    exact = a_tile.astype(np.int64) @ b_tile.astype(np.int64)
    assert (exact > (1 << 31) - 1).any() and (exact < -(1 << 31)).any(), \
        "the tile must wrap both ways"
    await tb.start_clock_and_reset()
    # The first steps - 1 K steps: constant payloads, valid high. Every a beat is accepted
    # (a.ready = b.valid and no earlier tile is pending), b with every `interleave`-th.
    last_a, last_b = tb.beats(a_tile[:, -lanes:], b_tile[-lanes:], ["int8"])
    dut.a__payload.value = encode(tb.a.layout, last_a[0])
    dut.b__payload.value = encode(tb.b.layout, dict(last_b[0], last=0))
    dut.a__valid.value = 1
    dut.b__valid.value = 1
    # One timer to the middle of the last cycle, then its rising edge: no Python per cycle.
    await Timer(10 * (steps - 1) * cfg.interleave - 5, unit="ns")
    await RisingEdge(dut.clk)
    dut.a__valid.value = 0
    dut.b__valid.value = 0
    tb.start_drivers()
    # The last K step through the drivers; the scoreboard expects the whole tile.
    for payload in last_a:
        tb.a.send(payload)
    for payload in last_b:
        tb.b.send(payload)
    tb.expect_tile(expected.astype(np.int64) & 0xFFFFFFFF)
    results = await tb.wait_results(tb.budget(2))
    got = results[0].astype(np.int64)
    dut._log.info("int8: K=%d (%d steps) tile bit-exact; exact sums %d..%d wrap to %d..%d",
                  steps * lanes, steps, int(exact.min()), int(exact.max()),
                  int(np.where(got >= 1 << 31, got - (1 << 32), got).min()),
                  int(np.where(got >= 1 << 31, got - (1 << 32), got).max()))


@cocotb.test()
async def test_cancellation(dut):
    """Per precision: dot products whose partial sums cancel catastrophically."""
    cfg = fp_config_from_env()
    tb = FPTensorCoreTB(dut, cfg)
    await tb.start()
    for precision in cfg.float_precisions:
        fmt = FORMATS[precision]
        tiles = []
        for _ in range(2 * soak_factor()):
            half = int(tb.np_rng.integers(2, 12))
            a, b = _operands(tb, precision, half)
            # The second half negates the first with its lowest fraction bits disturbed, in a
            # shuffled order: large partial sums, then a small residue.
            noise = tb.np_rng.integers(0, 4, size=a.shape).astype(np.uint32)
            a_neg = (a ^ np.uint32(1 << (fmt.width - 1))) ^ noise
            order = tb.np_rng.permutation(half)
            a_full = np.concatenate([a, a_neg[:, order]], axis=1)
            b_full = np.concatenate([b, b[order]], axis=0)
            tiles.append((a_full, b_full, precision))
        results = await _run_tiles(tb, tiles)
        dut._log.info("%s: %d cancelling tiles bit-exact, e.g. %s", precision, len(tiles),
                      [hex(int(v)) for v in results[0].ravel()[:4]])


@cocotb.test()
async def test_long_k(dut):
    """Per precision: one tile with K >= 1024, where rounding errors accumulate."""
    cfg = fp_config_from_env()
    k = int(_params().get("long_k", 1024)) * soak_factor()
    tb = FPTensorCoreTB(dut, cfg)
    await tb.start()
    precisions = list(cfg.precisions)
    if not _params().get("long_k_all", True):
        # A sample on slow simulators: one precision drawn from the seed.
        precisions = [str(tb.np_rng.choice(precisions))]
    for precision in precisions:
        # Same-sign-biased values so that the sum grows and small addends get rounded away.
        a, b = _operands(tb, precision, k)
        if precision != "int8":
            fmt = FORMATS[precision]
            a &= np.uint32((1 << (fmt.width - 1)) - 1)
        await _run_tiles(tb, [(a, b, precision)])
        dut._log.info("%s: tile with K=%d bit-exact", precision, k)


@cocotb.test()
async def test_mixed_back_to_back(dut):
    """Tiles of random precisions (INT8 too) and K, queued at once so they overlap."""
    cfg = fp_config_from_env()
    tb = FPTensorCoreTB(dut, cfg)
    await tb.start()
    tiles = []
    for _ in range(12 * soak_factor()):
        precision = str(tb.np_rng.choice(cfg.precisions))
        k = int(tb.np_rng.choice([1, 2, 5, cfg.min_k_per_tile(), 24]))
        kind = str(tb.np_rng.choice(["normal", "normal", "special", "tiny"]))
        tiles.append((*_operands(tb, precision, k, kind), precision))
    if cfg.has_int8:
        # INT8 and floating-point tiles alternating, K at the no-stall minimum.
        for n in range(4):
            precision = "int8" if n % 2 else str(tb.np_rng.choice(cfg.float_precisions))
            tiles.append((*_operands(tb, precision, cfg.min_k_per_tile()), precision))
    # One tile whose K steps switch between floating-point formats.
    k = 6
    precisions = [str(tb.np_rng.choice(cfg.float_precisions)) for _ in range(k)]
    a = np.stack([random_operands(tb.np_rng, p, (cfg.tile_rows,)) for p in precisions], axis=1)
    b = np.stack([random_operands(tb.np_rng, p, (cfg.cols,)) for p in precisions], axis=0)
    tiles.append((a, b, precisions))
    results = await _run_tiles(tb, tiles)
    assert len(results) == len(tiles)
    dut._log.info("%d back-to-back tiles bit-exact, precisions %s", len(tiles),
                  [p if isinstance(p, str) else "mixed" for _, _, p in tiles])


@cocotb.test()
async def test_int8_fp_mixed_tile_contained(dut):
    """A tile mixing INT8 and FP K steps (a protocol error) stays contained.

    Its values are unspecified; it must still return exactly one tile of rows (``row`` and
    ``last`` checked), and the INT8 and FP tiles queued right behind it are bit-exact.
    """
    cfg = fp_config_from_env()
    assert cfg.has_int8, "this test needs a design with int8 in its precisions"
    tb = FPTensorCoreTB(dut, cfg)
    await tb.start()
    for _ in range(2 * soak_factor()):
        steps = int(tb.np_rng.integers(2, 9))
        precisions = [str(tb.np_rng.choice(cfg.precisions)) for _ in range(steps)]
        precisions[int(tb.np_rng.integers(0, steps))] = "int8"
        precisions[int(tb.np_rng.integers(0, steps))] = str(
            tb.np_rng.choice(cfg.float_precisions))
        if "int8" not in precisions:
            precisions[0] = "int8"
        tb.send_int8_fp_mixed_tile(precisions)
        fp = str(tb.np_rng.choice(cfg.float_precisions))
        order = [("int8", fp), (fp, "int8")][int(tb.np_rng.integers(0, 2))]
        for precision in order:
            k = int(tb.np_rng.integers(1, 2 * cfg.min_k_per_tile()))
            tb.send_tile(*_operands(tb, precision, k), precision)
        await tb.wait_results(tb.budget(steps + 4 * cfg.min_k_per_tile()) + 1200)
        dut._log.info("mixed tile %s contained; then %s tiles bit-exact", precisions, order)


@cocotb.test()
async def test_reset_mid_tile(dut):
    """Reset while a tile is half streamed and results are draining, then run a clean tile."""
    cfg = fp_config_from_env()
    tb = FPTensorCoreTB(dut, cfg)
    await tb.start()
    for _ in range(2 * soak_factor()):
        precision = str(tb.np_rng.choice(cfg.precisions))
        k = 3 * cfg.rows
        for _ in range(3):
            tb.send_tile(*_operands(tb, precision, k), precision)
        await ClockCycles(dut.clk, int(tb.np_rng.integers(2, 3 * k * cfg.interleave)))
        dut._log.info("reset at cycle %d after %d a-beats", tb.counter.cycle, tb.a.sent)
        await tb.reset(cycles=int(tb.np_rng.integers(1, 4)))
        await _run_tiles(tb, [(*_operands(tb, precision, 7), precision)])


@cocotb.test()
async def test_single_tile_cycles(dut):
    """One tile on an idle core takes exactly ``interleave * K + fill + drain - 1`` cycles."""
    cfg = fp_config_from_env()
    tb = FPTensorCoreTB(dut, cfg, stress=False)
    await tb.start()
    precisions = [cfg.float_precisions[0]] + (["int8"] if cfg.has_int8 else [])
    for precision in precisions:
        for k in (1, 2, 16, 33):
            start = tb.counter.cycle
            tb.a.first_handshake = None
            await _run_tiles(tb, [(*_operands(tb, precision, k), precision)])
            cycles = tb.c.last_handshake - tb.a.first_handshake + 1
            expected = cfg.tile_cycles(k, precision)
            assert tb.a.first_handshake > start
            assert cycles == expected, (
                f"{precision} tile of K={k} took {cycles} cycles, expected {expected} "
                f"(fill {cfg.fill_cycles_of(precision)}, drain {cfg.drain_cycles})")
            dut._log.info("%s tile of K=%d: %d cycles", precision, k, cycles)


@cocotb.test()
async def test_utilisation(dut):
    """Per precision: back-to-back tiles, count cycles and report MAC utilisation."""
    cfg = fp_config_from_env()
    params = _params()
    count = int(params.get("util_tiles", 6))
    k = int(params.get("util_k", 4 * cfg.min_k_per_tile()))
    tb = FPTensorCoreTB(dut, cfg, stress=False)
    await tb.start()
    report = {"rows": cfg.rows, "cols": cfg.cols, "interleave": cfg.interleave,
              "mul_stages": cfg.mul_stages, "add_stages": cfg.add_stages, "k": k,
              "tiles": count, "per_precision": {}}
    for precision in cfg.precisions:
        await RisingEdge(dut.clk)
        tb.a.first_handshake = None
        await _run_tiles(tb, [(*_operands(tb, precision, k), precision) for _ in range(count)])
        cycles = tb.c.last_handshake - tb.a.first_handshake + 1
        useful = count * cfg.tile_rows * cfg.cols * k * (cfg.int8_lanes
                                                         if precision == "int8" else 1)
        expected_cycles = (count * cfg.tile_beats(k) + cfg.fill_cycles_of(precision)
                           + cfg.drain_cycles - 1)
        utilisation = useful / (cfg.macs_per_cycle(precision) * cycles)
        report["per_precision"][precision] = {
            "cycles": cycles, "expected_cycles": expected_cycles, "useful_macs": useful,
            "cycles_per_tile_steady": cfg.tile_beats(k), "utilisation": utilisation}
        dut._log.info("%s: %d tiles of K=%d in %d cycles, utilisation %.4f", precision, count,
                      k, cycles, utilisation)
        assert cycles == expected_cycles, f"{cycles} cycles, expected {expected_cycles}"
    out = os.environ.get("BRGPU_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump(report, f)
