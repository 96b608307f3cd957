"""Unit tests of the tensor core's golden model, against plain Python arithmetic."""

import numpy as np
import pytest

from verif.models.tensor import (
    assemble_gemm,
    gemm_reference,
    random_operands,
    tile_gemm,
    tile_reference,
    wrap_accumulator,
)


def _python_matmul(a, b, signed):
    """Schoolbook product with Python integers, wrapped to 32 bits by hand."""
    m, k = len(a), len(a[0])
    n = len(b[0])
    out = [[0] * n for _ in range(m)]
    for i in range(m):
        for j in range(n):
            total = sum(int(a[i][t]) * int(b[t][j]) for t in range(k)) % (1 << 32)
            if signed and total >= 1 << 31:
                total -= 1 << 32
            out[i][j] = total
    return out


@pytest.mark.parametrize("signed", [True, False])
def test_tile_matches_python(signed):
    rng = np.random.default_rng(1)
    for m, n, k in [(1, 1, 1), (8, 8, 3), (5, 7, 40), (2, 4, 129)]:
        a, b = random_operands(rng, m, n, k, signed=signed, extremes=0.2)
        assert tile_reference(a, b, signed=signed).tolist() == _python_matmul(a, b, signed)


def test_accumulator_wraps():
    assert wrap_accumulator([2**31], signed=True).tolist() == [-2**31]
    assert wrap_accumulator([-2**31 - 1], signed=True).tolist() == [2**31 - 1]
    assert wrap_accumulator([2**32 + 5], signed=False).tolist() == [5]
    # 133,153 products of -128 x -128 overflow a signed 32-bit accumulator.
    k = 133_153
    a = np.full((1, k), -128)
    b = np.full((k, 1), -128)
    assert tile_reference(a, b).item() == 16384 * k - 2**32
    acc = np.array([[2**31 - 1]])
    assert tile_reference([[1]], [[1]], acc=acc).item() == -2**31


@pytest.mark.parametrize("rows,cols,kpb", [(8, 8, 1), (4, 2, 2), (2, 4, 1)])
def test_tiled_gemm_equals_full_product(rows, cols, kpb):
    rng = np.random.default_rng(2)
    for m, n, k in [(1, 1, 1), (9, 3, 5), (16, 16, 7), (13, 21, 33)]:
        a, b = random_operands(rng, m, n, k)
        tiles = tile_gemm(a, b, rows, cols, kpb)
        assert len(tiles) == -(-m // rows) * -(-n // cols)
        for tile in tiles:
            assert tile.a.shape == (rows, tile.b.shape[0])
            assert tile.b.shape[1] == cols and tile.b.shape[0] % kpb == 0
        results = [tile_reference(t.a, t.b) for t in tiles]
        assert np.array_equal(assemble_gemm(tiles, results, m, n), gemm_reference(a, b))


def test_model_rejects_bad_operands():
    with pytest.raises(ValueError, match="outside"):
        tile_reference([[200]], [[1]], signed=True)
    with pytest.raises(ValueError, match="outside"):
        tile_reference([[-1]], [[1]], signed=False)
    with pytest.raises(ValueError, match="inner dimensions"):
        tile_reference(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="K must be"):
        tile_gemm(np.zeros((2, 0)), np.zeros((0, 2)), 2, 2)
