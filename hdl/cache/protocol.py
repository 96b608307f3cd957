"""Stream payloads of the cache slice: the core side and the line-granular memory side.

Core side
---------
``req`` carries :func:`core_request_layout`: an operation (:class:`CacheOp`), a request ``id``,
a byte address, one data word (``data_bytes`` wide) and its byte ``mask``. READ and WRITE act
on the aligned data word holding ``addr`` (the low ``log2(data_bytes)`` address bits are
ignored); FLUSH_LINE and INVALIDATE_LINE act on the line holding ``addr``; FLUSH_ALL and
INVALIDATE_ALL ignore ``addr``. Every request gets exactly one response on ``resp``
(:func:`core_response_layout`): ``id``, ``data`` (the word read; zero for every other
operation), ``hit`` and ``merged``. ``hit`` is 1 when a READ or WRITE found its line allocated
(present, or being filled for an earlier miss: the golden model's notion of a hit) and 0 for a
miss and for the four maintenance operations; ``merged`` is 1 when the request found its line
being filled and waited for that fill (a merge), so ``hit & ~merged`` is a plain hit.
Operation codes 6 and 7 are acknowledged and do nothing. Responses may leave in any order
(match them by ``id``), but two requests to the same line are answered in acceptance order.

Memory side (shared with the HBM controller's front end)
--------------------------------------------------------
A memory request (:func:`mem_request_layout`) moves one whole, aligned line:

========  ==========================================================================
``op``    :class:`MemOp`: ``READ`` (0) fetches the line, ``WRITE`` (1) stores it.
``addr``  Byte address of the line; its low ``log2(line_bytes)`` bits are zero.
``id``    For a READ, returned unchanged with the data; for a WRITE, informational.
``data``  WRITE: the line, byte ``i`` at bits ``8*i .. 8*i+7``. READ: zero.
``mask``  WRITE: bit ``i`` enables byte ``i`` (the slice always writes whole lines, all
          ones). READ: zero.
========  ==========================================================================

A read response (:func:`mem_response_layout`) is ``{data, id}``: the whole line, in the same
byte order. Writes get no response. Responses to reads with different IDs may return in any
order; the slice never has two reads with the same ID outstanding.

The slice has two request streams of this one layout: ``mem_read`` (only READs) and
``mem_write`` (only WRITEs, the write-backs), and one response stream ``mem_resp``. A memory
front end with separate read and write ports connects to them directly; one with a single
request port takes them through a 2:1 arbiter. Ordering rule the memory must keep: a READ of a
line returns the data of every WRITE of that line accepted in an earlier cycle. (The slice
never presents a READ and a WRITE of the same line in the same cycle.)
"""

from amaranth.hdl import unsigned
from amaranth.lib import data, enum

__all__ = ["CacheOp", "MemOp", "core_request_layout", "core_response_layout",
           "mem_request_layout", "mem_response_layout", "counters_layout", "COUNTER_WIDTH"]

#: Width of every performance counter (they wrap).
COUNTER_WIDTH = 32


class CacheOp(enum.Enum, shape=3):
    """Operations of the core-side request stream."""

    READ = 0
    WRITE = 1
    FLUSH_LINE = 2
    INVALIDATE_LINE = 3
    FLUSH_ALL = 4
    INVALIDATE_ALL = 5


class MemOp(enum.Enum, shape=1):
    """Operations of the memory-side request streams."""

    READ = 0
    WRITE = 1


def core_request_layout(config):
    """Return the payload layout of the core-side request stream ``req``."""
    return data.StructLayout({
        "op": CacheOp,
        "id": unsigned(config.id_width),
        "addr": unsigned(config.addr_width),
        "data": unsigned(8 * config.data_bytes),
        "mask": unsigned(config.data_bytes),
    })


def core_response_layout(config):
    """Return the payload layout of the core-side response stream ``resp``."""
    return data.StructLayout({
        "id": unsigned(config.id_width),
        "data": unsigned(8 * config.data_bytes),
        "hit": 1,
        "merged": 1,
    })


def mem_request_layout(*, addr_width, line_bytes, id_width):
    """Return the payload layout of a line-granular memory request (read or write)."""
    return data.StructLayout({
        "op": MemOp,
        "addr": unsigned(addr_width),
        "id": unsigned(id_width),
        "data": unsigned(8 * line_bytes),
        "mask": unsigned(line_bytes),
    })


def mem_response_layout(*, line_bytes, id_width):
    """Return the payload layout of a memory read response."""
    return data.StructLayout({
        "data": unsigned(8 * line_bytes),
        "id": unsigned(id_width),
    })


def counters_layout():
    """Return the layout of the slice's performance counters (each wraps at 2**32).

    ``hits``, ``misses`` and ``merges`` count READ and WRITE outcomes (the golden model's hits
    are ``hits + merges``), ``evictions`` valid lines displaced by a fill, ``writebacks`` lines
    written to memory (dirty evictions and flushes).
    """
    return data.StructLayout({name: unsigned(COUNTER_WIDTH) for name in
                              ("hits", "misses", "merges", "evictions", "writebacks")})
