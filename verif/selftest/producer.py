"""A stream producer with deliberate protocol bugs, to prove the stream monitor catches them."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import Out

__all__ = ["CountingProducer", "MODES"]

MODES = ("good", "drop_valid", "change_payload")


class CountingProducer(wiring.Component):
    """Send 0, 1, 2, ... on ``o``; ``mode`` chooses a protocol bug.

    Parameters
    ----------
    mode : str
        ``"good"`` obeys the stream rules; ``"drop_valid"`` lowers ``valid`` after two cycles
        without ``ready``; ``"change_payload"`` moves on to the next value after two cycles
        without ``ready``.
    """

    o: Out(stream.Signature(16))

    def __init__(self, *, mode="good"):
        if mode not in MODES:
            self._MustUse__silence = True  # a rejected component is not "unused"
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self._mode = mode
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        count = Signal(16)
        waited = Signal(2)
        m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(count)]
        with m.If(self.o.ready):
            m.d.sync += [count.eq(count + 1), waited.eq(0)]
        with m.Elif(waited != 3):
            m.d.sync += waited.eq(waited + 1)
        if self._mode == "drop_valid":
            with m.If(waited == 2):
                m.d.comb += self.o.valid.eq(0)
        elif self._mode == "change_payload":
            with m.If((waited == 2) & ~self.o.ready):
                m.d.sync += count.eq(count + 1)
        return m
