"""Front-end protocol of the HBM controller: whole-line requests and read responses.

This is the memory side of the cache slice: a request stream and a read-response stream, both
``amaranth.lib.stream`` with ``data.Struct`` payloads. The cache slice publishes the
layouts in ``hdl/cache/protocol.py``; the controller uses those very layouts, so the slice's
``mem_read``/``mem_write``/``mem_resp`` streams connect to it directly.

Request (``req``)
    ``op``
        :class:`MemOp`: ``READ`` (0) or ``WRITE`` (1).
    ``addr``
        Byte address of the line; the low ``log2(line_bytes)`` bits are ignored.
    ``id``
        Transaction ID, returned with the read data. IDs of reads that have not been answered
        must be distinct: responses come back in the order the controller serves them, which
        need not be the order of the requests.
    ``data``
        The line to write (``line_bytes`` bytes, byte 0 in bits 0..7); ignored for reads.
    ``mask``
        Byte enables of the write, bit ``i`` for byte ``i`` (1: written, 0: kept); ignored for
        reads.

Read response (``resp``)
    ``data``
        The line as left by the last write accepted before the read.
    ``id``
        The read's ``id``.

Writes have no response. A read always returns the data of the last write to the same
address accepted before it (the controller never reorders same-address requests).
"""

from ..cache.protocol import MemOp, mem_request_layout, mem_response_layout

__all__ = ["MemOp", "request_layout", "response_layout"]


def request_layout(*, addr_width, id_width, line_bytes):
    """Return the payload layout of the request stream (the cache's memory request).

    Parameters
    ----------
    addr_width : int
        Width of the byte address.
    id_width : int
        Width of the transaction ID.
    line_bytes : int
        Bytes per request (the cache line).
    """
    return mem_request_layout(addr_width=addr_width, line_bytes=line_bytes, id_width=id_width)


def response_layout(*, id_width, line_bytes):
    """Return the payload layout of the read-response stream (the cache's memory response)."""
    return mem_response_layout(line_bytes=line_bytes, id_width=id_width)
