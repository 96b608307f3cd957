"""Front-end protocol of the HBM controller: whole-line requests and read responses.

This is the memory side of the cache slice: a request stream and a read-response stream, both
``amaranth.lib.stream`` with ``data.Struct`` payloads. Until the cache slice publishes its own
layouts in ``hdl/cache/protocol.py`` these are the controller's, with the same fields.

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

from amaranth.lib import data, enum

__all__ = ["MemOp", "request_layout", "response_layout"]


class MemOp(enum.Enum, shape=1):
    """Operation of a memory request."""

    READ = 0
    WRITE = 1


def request_layout(*, addr_width, id_width, line_bytes):
    """Return the payload layout of the request stream.

    Parameters
    ----------
    addr_width : int
        Width of the byte address.
    id_width : int
        Width of the transaction ID.
    line_bytes : int
        Bytes per request (the cache line).
    """
    return data.StructLayout({
        "op": MemOp,
        "addr": addr_width,
        "id": id_width,
        "data": 8 * line_bytes,
        "mask": line_bytes,
    })


def response_layout(*, id_width, line_bytes):
    """Return the payload layout of the read-response stream."""
    return data.StructLayout({
        "data": 8 * line_bytes,
        "id": id_width,
    })
