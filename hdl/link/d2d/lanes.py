"""Serializer and deserializer between flits and ``lanes x lane_bits`` beats.

Bit order: a flit is sent most significant bit first (header first, see
:mod:`hdl.link.d2d.flit`). Beat ``b`` carries flit bits ``N - W*(b+1) .. N - 1 - W*b`` (``N``
flit bits, ``W = lanes * lane_bits``); within a beat lane 0 carries the most significant
``lane_bits`` and lane ``lanes - 1`` the least significant, each lane's value again most
significant bit first. All lanes have the same latency (no lane-to-lane skew is modelled).
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .config import D2DConfig
from .flit import flit_good, flit_layout

__all__ = ["Serializer", "Deserializer", "lanes_layout"]


def lanes_layout(config):
    """Return the layout of one beat on the lanes: ``lanes`` elements of ``lane_bits``."""
    return data.ArrayLayout(config.lane_bits, config.lanes)


def _check_config(component, config):
    if not isinstance(config, D2DConfig):
        component._MustUse__silence = True
        raise TypeError(f"config must be a D2DConfig, not {config!r}")


class Serializer(wiring.Component):
    """Cut flits into beats, one beat per cycle, most significant bits first.

    The ``flit`` stream is read on the cycle the last beat of the previous flit is on the
    lanes, so a producer that always has a flit keeps the lanes busy. If it has none, an all
    zero flit is sent (the receiver rejects it).

    Parameters
    ----------
    config : D2DConfig
        Flit size and lanes.

    Attributes
    ----------
    flit : In(stream.Signature(flit_layout))
        Flits to send.
    lanes : Out(lanes_layout)
        The beat on the lanes this cycle (registered).
    """

    def __init__(self, *, config):
        _check_config(self, config)
        self._config = config
        super().__init__({
            "flit": In(stream.Signature(flit_layout(config.payload_bytes))),
            "lanes": Out(lanes_layout(config)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        beats, width = cfg.beats_per_flit, cfg.beat_bits
        shift = Signal(cfg.flit_bits)
        beat = Signal(range(beats), init=beats - 1)
        m.d.comb += self.flit.ready.eq(beat == beats - 1)
        with m.If(self.flit.ready):
            m.d.sync += [
                shift.eq(Mux(self.flit.valid, self.flit.payload.as_value(), 0)),
                beat.eq(0),
            ]
        with m.Else():
            m.d.sync += [
                shift.eq(shift << width),
                beat.eq(beat + 1),
            ]
        top = shift[cfg.flit_bits - width:]
        for lane in range(cfg.lanes):
            high = width - cfg.lane_bits * lane
            m.d.comb += self.lanes[lane].eq(top[high - cfg.lane_bits:high])
        return m


class Deserializer(wiring.Component):
    """Assemble beats into flits; ``slip`` moves the flit boundary by one beat.

    The flit's CRC and format are checked as its last beat arrives and the verdict is
    registered with it (``good``, see :func:`hdl.link.d2d.flit.flit_good`), so the receiver's
    decisions do not wait for the XOR trees and pattern comparators.

    Parameters
    ----------
    config : D2DConfig
        Flit size and lanes.

    Attributes
    ----------
    lanes : In(lanes_layout)
        The beat arriving this cycle.
    slip : In(1)
        Drop one beat from the flit boundary count (training uses it to find the boundary).
    flit : Out(stream.Signature(flit_layout, always_ready=True))
        One flit every ``beats_per_flit`` cycles; there is no backpressure.
    good : Out(1)
        ``flit.payload`` has a matching CRC and a valid format (valid with it).
    """

    def __init__(self, *, config):
        _check_config(self, config)
        self._config = config
        super().__init__({
            "lanes": In(lanes_layout(config)),
            "slip": In(1),
            "flit": Out(stream.Signature(flit_layout(config.payload_bytes),
                                         always_ready=True)),
            "good": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        beats, width = cfg.beats_per_flit, cfg.beat_bits
        beat_word = Cat(*(self.lanes[lane] for lane in reversed(range(cfg.lanes))))
        shift = Signal(cfg.flit_bits)
        assembled = Signal(cfg.flit_bits)
        m.d.comb += assembled.eq(Cat(beat_word, shift[:cfg.flit_bits - width]))
        m.d.sync += shift.eq(assembled)
        beat = Signal(range(beats))
        m.d.sync += self.flit.valid.eq(0)
        with m.If(self.slip & (beats > 1)):
            pass  # hold the count: the next flit boundary comes one beat later
        with m.Elif(beat == beats - 1):
            m.d.sync += [
                beat.eq(0),
                self.flit.valid.eq(1),
                self.flit.payload.eq(assembled),
                self.good.eq(flit_good(data.View(flit_layout(cfg.payload_bytes), assembled),
                                       cfg.payload_bytes)),
            ]
        with m.Else():
            m.d.sync += beat.eq(beat + 1)
        return m
