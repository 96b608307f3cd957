"""cocotb drivers and monitors for ``amaranth.lib.stream`` interfaces.

A stream ``x`` of an Amaranth component appears on the Verilog top level as ``x__valid``,
``x__ready`` and ``x__payload``. The classes here bind to those ports by prefix:

:class:`StreamSource`
    Drives ``valid``/``payload`` from a queue, with random gaps between beats.
:class:`StreamSink`
    Drives ``ready`` with random backpressure and collects the beats it accepts.
:class:`StreamMonitor`
    Checks the stream rules every cycle: once ``valid`` is high it stays high, with a stable
    payload, until the cycle ``ready`` is high. A violation fails the test with the cycle
    number and the transaction.

Gap and backpressure patterns come from a ``random.Random`` so that a seed replays them.
"""

import collections

from cocotb.triggers import RisingEdge

from .payload import decode, encode

__all__ = ["StreamSource", "StreamSink", "StreamMonitor", "StreamProtocolError", "CycleCounter"]


class StreamProtocolError(AssertionError):
    """A stream broke the valid/ready rules."""


def _bit(handle):
    value = handle.value
    return bool(int(value)) if value.is_resolvable else False


def _word(handle):
    value = handle.value
    if not value.is_resolvable:
        return None
    return value.to_unsigned()


class CycleCounter:
    """Count rising edges of ``clock``; ``cycle`` is the number of the cycle just ended."""

    def __init__(self, clock):
        self.clock = clock
        self.cycle = 0

    async def run(self):
        """Count cycles forever (start with ``cocotb.start_soon``)."""
        while True:
            await RisingEdge(self.clock)
            self.cycle += 1


class _StreamPort:
    def __init__(self, dut, prefix, clock, layout, reset=None):
        self.prefix = prefix
        self.clock = clock
        self.layout = layout
        self.reset = reset
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")

    def _in_reset(self):
        return self.reset is not None and _bit(self.reset)


class StreamSource(_StreamPort):
    """Drive a stream from a queue of payloads.

    Parameters
    ----------
    dut, prefix, clock, layout
        The design, the stream's port prefix, its clock and its payload layout.
    rng : random.Random
        Source of the gap pattern.
    valid_prob : float
        Probability that an idle source presents its next beat in a given cycle (1.0: no gaps).
    reset : handle, optional
        While this is high the source drives ``valid`` low and holds its queue.
    """

    def __init__(self, dut, prefix, clock, layout, *, rng, valid_prob=1.0, reset=None):
        super().__init__(dut, prefix, clock, layout, reset)
        if not 0.0 < valid_prob <= 1.0:
            raise ValueError(f"valid_prob must be in (0, 1], not {valid_prob!r}")
        self.rng = rng
        self.valid_prob = valid_prob
        self.queue = collections.deque()
        self.sent = 0
        self.first_handshake = None
        self.last_handshake = None
        self._driving = False
        self.valid.value = 0

    def send(self, payload):
        """Queue one beat (a value for :func:`verif.payload.encode`)."""
        self.queue.append(payload)

    def clear(self):
        """Drop every queued beat and release ``valid`` (use around a reset)."""
        self.queue.clear()
        self._driving = False
        self.valid.value = 0

    @property
    def idle(self):
        """True when every queued beat has been accepted."""
        return not self.queue and not self._driving

    async def run(self, counter=None):
        """Drive the stream forever (start with ``cocotb.start_soon``)."""
        while True:
            await RisingEdge(self.clock)
            if self._in_reset():
                self._driving = False
                self.valid.value = 0
                continue
            if self._driving and _bit(self.ready):
                self.queue.popleft()
                self.sent += 1
                self._driving = False
                if counter is not None:
                    if self.first_handshake is None:
                        self.first_handshake = counter.cycle
                    self.last_handshake = counter.cycle
            if not self._driving and self.queue and self.rng.random() < self.valid_prob:
                self.payload.value = encode(self.layout, self.queue[0])
                self.valid.value = 1
                self._driving = True
            elif not self._driving:
                self.valid.value = 0


class StreamSink(_StreamPort):
    """Accept beats from a stream with random backpressure.

    Parameters
    ----------
    dut, prefix, clock, layout
        The design, the stream's port prefix, its clock and its payload layout.
    rng : random.Random
        Source of the backpressure pattern.
    ready_prob : float
        Probability that ``ready`` is high in a given cycle (1.0: no backpressure).

    Setting :attr:`paused` holds ``ready`` low until it is cleared (to fill a design up).
    """

    def __init__(self, dut, prefix, clock, layout, *, rng, ready_prob=1.0, reset=None):
        super().__init__(dut, prefix, clock, layout, reset)
        if not 0.0 < ready_prob <= 1.0:
            raise ValueError(f"ready_prob must be in (0, 1], not {ready_prob!r}")
        self.rng = rng
        self.ready_prob = ready_prob
        self.received = collections.deque()
        self.count = 0
        self.last_handshake = None
        self.paused = False
        self._ready = False
        self.ready.value = 0

    async def run(self, counter=None):
        """Accept beats forever (start with ``cocotb.start_soon``)."""
        while True:
            await RisingEdge(self.clock)
            if self._in_reset():
                self._ready = False
                self.ready.value = 0
                continue
            if self._ready and _bit(self.valid):
                self.received.append(decode(self.layout, _word(self.payload)))
                self.count += 1
                if counter is not None:
                    self.last_handshake = counter.cycle
            self._ready = not self.paused and self.rng.random() < self.ready_prob
            self.ready.value = int(self._ready)


class StreamMonitor(_StreamPort):
    """Check the stream rules on every cycle and record accepted beats.

    A producer that lowers ``valid`` or changes the payload while ``valid`` is high and
    ``ready`` is low fails the test: the error names the stream, the cycle and both payloads.
    """

    def __init__(self, dut, prefix, clock, layout=None, *, reset=None):
        super().__init__(dut, prefix, clock, layout, reset)
        self.transactions = 0
        self.errors = []

    def _describe(self, word):
        if word is None:
            return "X"
        if self.layout is None:
            return hex(word)
        return repr(decode(self.layout, word))

    async def run(self, counter):
        """Watch the stream forever (start with ``cocotb.start_soon``)."""
        pending = None  # payload presented but not accepted in the previous cycle
        while True:
            await RisingEdge(self.clock)
            if self._in_reset():
                pending = None
                continue
            valid, ready = _bit(self.valid), _bit(self.ready)
            word = _word(self.payload) if valid else None
            if pending is not None:
                if not valid:
                    self._fail(counter, f"valid dropped before ready; pending transaction "
                                        f"{self._describe(pending)}")
                elif word != pending:
                    self._fail(counter, f"payload changed while valid and not ready: "
                                        f"{self._describe(pending)} -> {self._describe(word)}")
            if valid and word is None:
                self._fail(counter, f"payload has X/Z bits while valid: {self.payload.value}")
            if valid and ready:
                self.transactions += 1
            pending = word if valid and not ready else None

    def _fail(self, counter, message):
        text = f"stream {self.prefix!r} at cycle {counter.cycle}: {message}"
        self.errors.append(text)
        raise StreamProtocolError(text)
