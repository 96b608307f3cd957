"""cocotb tests of the floating-point tensor core against the numpy float32 golden model.

Run through ``tests/test_fp_core.py``; the configuration arrives in ``BRGPU_PARAMS``. Every
random choice comes from the logged seed (``SEED=n``); longer runs with ``SOAK=n``.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, RisingEdge

from verif.models.fp import FORMATS, random_operands
from verif.tensor.fp_tb import FPTensorCoreTB, fp_config_from_env
from verif.tensor.tb import soak_factor


def _params():
    return json.loads(os.environ.get("BRGPU_PARAMS", "{}"))


def _operands(tb, precision, k, kind="normal", **kwargs):
    cfg = tb.config
    a = random_operands(tb.np_rng, precision, (cfg.tile_rows, k), kind=kind, **kwargs)
    b = random_operands(tb.np_rng, precision, (k, cfg.cols), kind=kind, **kwargs)
    return a, b


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
    for precision in cfg.precisions:
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
async def test_cancellation(dut):
    """Per precision: dot products whose partial sums cancel catastrophically."""
    cfg = fp_config_from_env()
    tb = FPTensorCoreTB(dut, cfg)
    await tb.start()
    for precision in cfg.precisions:
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
        fmt = FORMATS[precision]
        a &= np.uint32((1 << (fmt.width - 1)) - 1)
        await _run_tiles(tb, [(a, b, precision)])
        dut._log.info("%s: tile with K=%d bit-exact", precision, k)


@cocotb.test()
async def test_mixed_back_to_back(dut):
    """Tiles of random precisions and K, queued at once so they overlap in the array."""
    cfg = fp_config_from_env()
    tb = FPTensorCoreTB(dut, cfg)
    await tb.start()
    tiles = []
    for _ in range(12 * soak_factor()):
        precision = str(tb.np_rng.choice(cfg.precisions))
        k = int(tb.np_rng.choice([1, 2, 5, cfg.min_k_per_tile(), 24]))
        kind = str(tb.np_rng.choice(["normal", "normal", "special", "tiny"]))
        tiles.append((*_operands(tb, precision, k, kind), precision))
    # One tile whose K steps switch precision.
    k = 6
    precisions = [str(tb.np_rng.choice(cfg.precisions)) for _ in range(k)]
    a = np.stack([random_operands(tb.np_rng, p, (cfg.tile_rows,)) for p in precisions], axis=1)
    b = np.stack([random_operands(tb.np_rng, p, (cfg.cols,)) for p in precisions], axis=0)
    tiles.append((a, b, precisions))
    results = await _run_tiles(tb, tiles)
    assert len(results) == len(tiles)


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
    for k in (1, 2, 16, 33):
        start = tb.counter.cycle
        tb.a.first_handshake = None
        await _run_tiles(tb, [(*_operands(tb, cfg.precisions[0], k), cfg.precisions[0])])
        cycles = tb.c.last_handshake - tb.a.first_handshake + 1
        assert tb.a.first_handshake > start
        assert cycles == cfg.tile_cycles(k), (
            f"tile of K={k} took {cycles} cycles, expected {cfg.tile_cycles(k)} "
            f"(fill {cfg.fill_cycles}, drain {cfg.drain_cycles})")
        dut._log.info("tile of K=%d: %d cycles", k, cycles)


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
        useful = count * cfg.tile_rows * cfg.cols * k
        expected_cycles = count * cfg.tile_beats(k) + cfg.fill_cycles + cfg.drain_cycles - 1
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
