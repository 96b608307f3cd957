"""A line-granular memory behind the cache slice's memory-side streams, with random latency.

It implements the memory side of ``hdl/cache/protocol.py``: a write (``mem_write``) updates the
image, byte-masked, in the cycle it is accepted; a read (``mem_read``) takes the line's bytes in
the cycle it is accepted and returns them on ``mem_resp`` with the read's ID after a latency
drawn from ``[min_latency, max_latency]`` cycles. Responses leave in the order they become due
(reads with different IDs may overtake each other when latencies differ).
"""

import heapq

import numpy as np
from cocotb.triggers import RisingEdge

__all__ = ["LineMemory"]


class LineMemory:
    """Serve the slice's line reads and write-backs from a flat ``uint8`` image.

    Parameters
    ----------
    image : numpy.ndarray
        The memory image, one ``uint8`` per byte from address 0; updated in place.
    line_bytes : int
        Line size.
    read_sink, write_sink : verif.stream.StreamSink
        Sinks bound to ``mem_read`` and ``mem_write``.
    resp_source : verif.stream.StreamSource
        Source bound to ``mem_resp``.
    counter : verif.stream.CycleCounter
        The cycle counter (latency is counted in its cycles).
    rng : random.Random
        Draws the latencies.
    min_latency, max_latency : int
        Read latency range in cycles, from acceptance to the response being queued.
    """

    def __init__(self, image, line_bytes, *, read_sink, write_sink, resp_source, counter, rng,
                 min_latency=1, max_latency=20):
        self.image = image
        self.line_bytes = line_bytes
        self.read_sink = read_sink
        self.write_sink = write_sink
        self.resp_source = resp_source
        self.counter = counter
        self.rng = rng
        self.min_latency = min_latency
        self.max_latency = max_latency
        self.reads = 0
        self.writes = 0
        self.write_log = []
        self.max_in_flight = 0  # most line reads accepted and not yet answered at once
        self._answered_base = 0  # reads dropped by resets
        self._pending = []  # heap of (due cycle, sequence, payload)
        self._sequence = 0

    def clear(self):
        """Drop every read in flight (around a reset); accepted writes still land."""
        self._pending.clear()
        self.read_sink.received.clear()
        self.resp_source.clear()
        self._answered_base = self.reads - self.resp_source.sent

    def _line(self, addr, what):
        if addr % self.line_bytes:
            raise AssertionError(f"{what} address {addr:#x} is not line aligned")
        if addr + self.line_bytes > len(self.image):
            raise AssertionError(f"{what} address {addr:#x} is outside the memory image")
        return slice(addr, addr + self.line_bytes)

    async def run(self):
        """Serve requests forever (start with ``cocotb.start_soon``)."""
        while True:
            await RisingEdge(self.read_sink.clock)
            # Writes accepted in this cycle are visible to reads accepted in later cycles.
            while self.write_sink.received:
                beat = self.write_sink.received.popleft()
                assert beat["op"] == 1, f"mem_write carries a non-WRITE request: {beat!r}"
                where = self._line(beat["addr"], "write-back")
                data = np.frombuffer(beat["data"].to_bytes(self.line_bytes, "little"), np.uint8)
                enable = np.array([(beat["mask"] >> i) & 1 for i in range(self.line_bytes)],
                                  dtype=bool)
                self.image[where][enable] = data[enable]
                self.writes += 1
                self.write_log.append(beat["addr"])
            while self.read_sink.received:
                beat = self.read_sink.received.popleft()
                assert beat["op"] == 0, f"mem_read carries a non-READ request: {beat!r}"
                assert beat["mask"] == 0 and beat["data"] == 0, f"READ with data: {beat!r}"
                where = self._line(beat["addr"], "read")
                line = int.from_bytes(self.image[where].tobytes(), "little")
                due = self.counter.cycle + self.rng.randint(self.min_latency, self.max_latency)
                heapq.heappush(self._pending, (due, self._sequence,
                                               {"data": line, "id": beat["id"]}))
                self._sequence += 1
                self.reads += 1
            while self._pending and self._pending[0][0] <= self.counter.cycle:
                self.resp_source.send(heapq.heappop(self._pending)[2])
            in_flight = self.reads - self._answered_base - self.resp_source.sent
            self.max_in_flight = max(self.max_in_flight, in_flight)
