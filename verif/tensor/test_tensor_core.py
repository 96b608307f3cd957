"""cocotb tests of the INT8 tensor core against the numpy golden model.

Run through ``tests/test_tensor_core.py`` (pytest) or ``brgpu demo``; the design's configuration
arrives in ``BRGPU_PARAMS``. Every random choice comes from the logged seed (``SEED=n``).
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, RisingEdge

from verif.models.tensor import (
    assemble_gemm,
    gemm_reference,
    random_operands,
    tile_gemm,
    tile_reference,
)
from verif.tensor.tb import TensorCoreTB, config_from_env, soak_factor


def _run_gemm_tiles(tb, a, b):
    cfg = tb.config
    tiles = tile_gemm(a, b, cfg.rows, cfg.cols, cfg.k_per_beat)
    for tile in tiles:
        tb.send_tile(tile.a, tile.b, tile_reference(tile.a, tile.b, signed=cfg.signed))
    return tiles


async def _check_gemm(tb, a, b):
    cfg = tb.config
    tiles = _run_gemm_tiles(tb, a, b)
    k_beats = -(-a.shape[1] // cfg.k_per_beat)
    budget = len(tiles) * (k_beats + cfg.min_beats_per_tile()) * 40 + 1000
    results = await tb.wait_results(budget)
    product = assemble_gemm(tiles, results, a.shape[0], b.shape[1])
    expected = gemm_reference(a, b, signed=cfg.signed)
    assert np.array_equal(product, expected), (
        f"GEMM {a.shape[0]}x{b.shape[1]}x{a.shape[1]} differs from numpy at "
        f"{np.argwhere(product != expected)[:5].tolist()}")
    return len(tiles)


@cocotb.test()
async def test_random_gemms(dut):
    """Random GEMM shapes, including K=1 and odd K, under random gaps and backpressure."""
    cfg = config_from_env()
    tb = TensorCoreTB(dut, cfg)
    await tb.start()
    shapes = [(cfg.rows, cfg.cols, 1), (1, 1, 1), (cfg.rows, cfg.cols, 3)]
    for _ in range(4 * soak_factor()):
        shapes.append((int(tb.np_rng.integers(1, 2 * cfg.rows + 1)),
                       int(tb.np_rng.integers(1, 2 * cfg.cols + 1)),
                       int(tb.np_rng.integers(1, 70))))
    for m, n, k in shapes:
        a, b = random_operands(tb.np_rng, m, n, k, signed=cfg.signed, extremes=0.1)
        tiles = await _check_gemm(tb, a, b)
        dut._log.info("GEMM %dx%dx%d: %d tiles bit-exact", m, n, k, tiles)


@cocotb.test()
async def test_extreme_values(dut):
    """Operands at the ends of the INT8 range: every product at its largest magnitude."""
    cfg = config_from_env()
    tb = TensorCoreTB(dut, cfg)
    await tb.start()
    low, high = (-128, 127) if cfg.signed else (0, 255)
    k = 37
    for a_value, b_value in ((low, low), (low, high), (high, high), (high, low)):
        a = np.full((cfg.rows, k), a_value, dtype=np.int64)
        b = np.full((k, cfg.cols), b_value, dtype=np.int64)
        await _check_gemm(tb, a, b)
    a, b = random_operands(tb.np_rng, cfg.rows, cfg.cols, 64, signed=cfg.signed, extremes=1.0)
    await _check_gemm(tb, a, b)


@cocotb.test()
async def test_back_to_back_tiles(dut):
    """A long run of tiles with random K, queued at once so tiles overlap in the array."""
    cfg = config_from_env()
    tb = TensorCoreTB(dut, cfg)
    await tb.start()
    count = 12 * soak_factor()
    expected_tiles = []
    for _ in range(count):
        k = int(tb.np_rng.choice([1, 2, 5, cfg.rows, cfg.min_beats_per_tile(), 40]))
        k *= cfg.k_per_beat
        a, b = random_operands(tb.np_rng, cfg.rows, cfg.cols, k, signed=cfg.signed,
                               extremes=0.05)
        expected = tile_reference(a, b, signed=cfg.signed)
        tb.send_tile(a, b, expected)
        expected_tiles.append(expected)
    results = await tb.wait_results(count * 400 + 2000)
    for index, (got, want) in enumerate(zip(results, expected_tiles, strict=True)):
        assert np.array_equal(got, want), f"tile {index} differs"


@cocotb.test()
async def test_reset_mid_tile(dut):
    """Reset while a tile is half streamed and results are draining, then run a clean tile."""
    cfg = config_from_env()
    tb = TensorCoreTB(dut, cfg)
    await tb.start()
    for _ in range(2 * soak_factor()):
        k = 3 * cfg.rows * cfg.k_per_beat
        for _ in range(3):
            a, b = random_operands(tb.np_rng, cfg.rows, cfg.cols, k, signed=cfg.signed)
            tb.send_tile(a, b, tile_reference(a, b, signed=cfg.signed))
        await ClockCycles(dut.clk, int(tb.np_rng.integers(2, 3 * k)))
        dut._log.info("reset at cycle %d after %d a-beats", tb.counter.cycle, tb.a.sent)
        await tb.reset(cycles=int(tb.np_rng.integers(1, 4)))
        a, b = random_operands(tb.np_rng, cfg.rows, cfg.cols, 7 * cfg.k_per_beat,
                               signed=cfg.signed)
        await _check_gemm(tb, a, b)


@cocotb.test()
async def test_single_tile_cycles(dut):
    """One tile on an idle core takes exactly ``beats + fill + drain - 1`` cycles."""
    cfg = config_from_env()
    tb = TensorCoreTB(dut, cfg, stress=False)
    await tb.start()
    for beats in (1, 2, 16, 33):
        start = tb.counter.cycle
        a, b = random_operands(tb.np_rng, cfg.rows, cfg.cols, beats * cfg.k_per_beat,
                               signed=cfg.signed)
        tb.a.first_handshake = None
        await _check_gemm(tb, a, b)
        cycles = tb.c.last_handshake - tb.a.first_handshake + 1
        assert tb.a.first_handshake > start
        assert cycles == cfg.tile_cycles(beats), (
            f"tile of {beats} beats took {cycles} cycles, expected {cfg.tile_cycles(beats)} "
            f"(fill {cfg.fill_cycles}, drain {cfg.drain_cycles})")
        dut._log.info("tile of %d beats: %d cycles", beats, cycles)


@cocotb.test()
async def test_utilisation(dut):
    """Back-to-back full tiles with large K: count cycles and report MAC utilisation."""
    cfg = config_from_env()
    params = json.loads(os.environ.get("BRGPU_PARAMS", "{}"))
    tiles = int(params.get("util_tiles", 16))
    k = int(params.get("util_k", 256))
    tb = TensorCoreTB(dut, cfg, stress=False)
    await tb.start()
    m, n = cfg.rows * int(np.sqrt(tiles)), cfg.cols * (tiles // int(np.sqrt(tiles)))
    a, b = random_operands(tb.np_rng, m, n, k, signed=cfg.signed, extremes=0.05)
    await RisingEdge(dut.clk)
    tb.a.first_handshake = None
    count = await _check_gemm(tb, a, b)
    cycles = tb.c.last_handshake - tb.a.first_handshake + 1
    beats = count * (k // cfg.k_per_beat)
    useful = m * n * k
    utilisation = useful / (cfg.int8_macs_per_cycle * cycles)
    expected_cycles = beats + cfg.fill_cycles + cfg.drain_cycles - 1
    report = {"rows": cfg.rows, "cols": cfg.cols, "k_per_beat": cfg.k_per_beat,
              "m": m, "n": n, "k": k, "tiles": count, "cycles": cycles,
              "expected_cycles": expected_cycles, "useful_macs": useful,
              "utilisation": utilisation}
    dut._log.info("utilisation report: %s", report)
    out = os.environ.get("BRGPU_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump(report, f)
    assert cycles == expected_cycles, f"{cycles} cycles, expected {expected_cycles}"
    if k >= cfg.min_beats_per_tile() * cfg.k_per_beat * 8:
        assert utilisation >= 0.97, f"utilisation {utilisation:.4f}"
