"""Golden model of the INT8 tensor core: tile and GEMM arithmetic, written from the spec.

The tensor core computes ``C[rows x cols] = A[rows x K] . B[K x cols]`` on 8-bit integers with a
32-bit accumulator that wraps as two's complement (signed) or modulo 2^32 (unsigned). A GEMM of any
``M x N x K`` runs as a grid of tiles; operands are zero-padded at the edges so every tile is a
full ``rows x cols`` block, and K is zero-padded to a multiple of the K steps per beat.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["wrap_accumulator", "tile_reference", "gemm_reference", "GemmTile", "tile_gemm",
           "assemble_gemm", "random_operands"]


def wrap_accumulator(values, *, signed=True):
    """Reduce exact integer sums to the 32-bit accumulator's value."""
    values = np.asarray(values, dtype=np.int64)
    wrapped = np.mod(values, 1 << 32)
    if signed:
        wrapped = np.where(wrapped >= 1 << 31, wrapped - (1 << 32), wrapped)
        return wrapped.astype(np.int32)
    return wrapped.astype(np.uint32)


def _check_operand(name, array, signed):
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, not shape {array.shape}")
    low, high = (-128, 127) if signed else (0, 255)
    if array.size and (array.min() < low or array.max() > high):
        raise ValueError(f"{name} holds values outside {low}..{high}")
    return array.astype(np.int64)


def tile_reference(a, b, *, signed=True, acc=None):
    """Return ``acc + a @ b`` as the tensor core computes it (32-bit wrap-around).

    Parameters
    ----------
    a : array_like, shape (rows, K)
    b : array_like, shape (K, cols)
    signed : bool
        Operand and accumulator signedness.
    acc : array_like, optional
        A previous partial sum, shape (rows, cols).
    """
    a = _check_operand("a", a, signed)
    b = _check_operand("b", b, signed)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"inner dimensions differ: a is {a.shape}, b is {b.shape}")
    total = a @ b
    if acc is not None:
        total = total + np.asarray(acc, dtype=np.int64)
    return wrap_accumulator(total, signed=signed)


def gemm_reference(a, b, *, signed=True):
    """Return the full ``M x N`` product, independent of any tiling."""
    return tile_reference(a, b, signed=signed)


@dataclass(frozen=True)
class GemmTile:
    """One tile of a tiled GEMM: the block of C at (``m0``, ``n0``) and its padded operands."""

    m0: int
    n0: int
    a: np.ndarray  # rows x K_padded
    b: np.ndarray  # K_padded x cols


def tile_gemm(a, b, rows, cols, k_per_beat=1):
    """Split ``a @ b`` into full ``rows x cols`` tiles, zero-padding the edges.

    Returns the tiles in row-major order of the C grid. K is padded to a multiple of
    ``k_per_beat`` with zeros, which leaves the products unchanged.
    """
    a, b = np.asarray(a), np.asarray(b)
    m, k = a.shape
    k2, n = b.shape
    if k != k2:
        raise ValueError(f"inner dimensions differ: a is {a.shape}, b is {b.shape}")
    if k < 1:
        raise ValueError("K must be at least 1")
    k_padded = -(-k // k_per_beat) * k_per_beat
    tiles = []
    for m0 in range(0, m, rows):
        for n0 in range(0, n, cols):
            a_tile = np.zeros((rows, k_padded), dtype=a.dtype)
            b_tile = np.zeros((k_padded, cols), dtype=b.dtype)
            a_block = a[m0:m0 + rows]
            b_block = b[:, n0:n0 + cols]
            a_tile[:a_block.shape[0], :k] = a_block
            b_tile[:k, :b_block.shape[1]] = b_block
            tiles.append(GemmTile(m0, n0, a_tile, b_tile))
    return tiles


def assemble_gemm(tiles, results, m, n):
    """Place each tile's ``rows x cols`` result into an ``m x n`` matrix, cropping the padding."""
    if len(tiles) != len(results):
        raise ValueError(f"{len(tiles)} tiles but {len(results)} results")
    out = None
    for tile, result in zip(tiles, results, strict=True):
        result = np.asarray(result)
        if out is None:
            out = np.zeros((m, n), dtype=result.dtype)
        rows = min(result.shape[0], m - tile.m0)
        cols = min(result.shape[1], n - tile.n0)
        out[tile.m0:tile.m0 + rows, tile.n0:tile.n0 + cols] = result[:rows, :cols]
    return out


def random_operands(rng, m, n, k, *, signed=True, extremes=0.0):
    """Return random INT8 matrices ``a`` (m x k) and ``b`` (k x n).

    ``extremes`` is the fraction of entries replaced by the range's end points.
    """
    low, high = (-128, 127) if signed else (0, 255)
    a = rng.integers(low, high + 1, size=(m, k))
    b = rng.integers(low, high + 1, size=(k, n))
    if extremes:
        for matrix in (a, b):
            mask = rng.random(matrix.shape) < extremes
            matrix[mask] = rng.choice([low, high], size=int(mask.sum()))
    return a.astype(np.int64), b.astype(np.int64)
