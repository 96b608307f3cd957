"""cocotb model of the wires between the two dies, and a monitor of the flits sent on them.

:class:`WireChannel` carries the beats of one direction from a ``lane_tx`` port to the far
end's ``lane_rx`` port ``latency`` cycles later and corrupts them: independent bit errors at a
bit error rate (the gaps between errors are drawn from a geometric distribution, so a low BER
costs nothing per cycle), burst errors (a run of ``burst_bits`` bits whose first and last bits
flip and the others flip with probability 1/2), and a stuck lane (every bit of one lane forced
to 0 or 1).

:class:`FlitMonitor` watches a ``lane_tx`` port before any corruption, reassembles flits and
decodes them with the golden model (:func:`verif.models.flit.unpack`): every flit the RTL sends
must have the model's CRC and a valid header, CTRL and TRAIN flits the model's payloads, and
the first transmission of every sequence number must carry the next message of its VC in the
order the testbench offered them, while a replay must repeat it exactly. It keeps the credit
advertisement of the last TRAIN flit (:attr:`FlitMonitor.advert`) and counts new DATA flits
per VC (``counts["DATA_NEW_VC0"]``, ...).
"""

import collections

from cocotb.triggers import RisingEdge

from verif.models.flit import FlitFormat, FlitType, idle_payload, parse_train_payload, unpack

__all__ = ["WireChannel", "FlitMonitor", "beat_from_port", "flit_format"]


def flit_format(config):
    """Return the golden model's :class:`FlitFormat` of a :class:`D2DConfig`."""
    return FlitFormat(payload_bytes=config.payload_bytes, header_bytes=2)


def beat_from_port(config, word):
    """Return the beat as an integer, first-sent bit most significant, from a lane port value.

    The port packs lane ``l`` at bits ``l * lane_bits`` and up; on the wire lane 0 carries the
    most significant bits of the beat.
    """
    lane_bits, lanes = config.lane_bits, config.lanes
    mask = (1 << lane_bits) - 1
    beat = 0
    for lane in range(lanes):
        beat = beat << lane_bits | (word >> (lane * lane_bits) & mask)
    return beat


def _read(handle):
    value = handle.value
    if not value.is_resolvable:
        return 0
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)


class WireChannel:
    """One direction of the die-to-die wires.

    Parameters
    ----------
    tx, rx
        The ``lane_tx`` port of the sending end and the ``lane_rx`` port of the receiving end.
    clock
        The clock.
    config : D2DConfig
        Lanes and bits per lane.
    rng : numpy.random.Generator
        Source of the errors.
    latency : int
        Cycles on the wires beyond the one register stage of the cocotb write, at least 0.
    """

    def __init__(self, tx, rx, clock, config, *, rng, latency=1):
        self.tx, self.rx, self.clock, self.config = tx, rx, clock, config
        self.rng = rng
        self.width = config.beat_bits
        self.latency = latency
        self.ber = 0.0
        self.burst_prob = 0.0
        self.burst_bits = 16
        self.stuck = None
        self._next_error = None
        self.beats = 0
        self.beats_corrupted = 0
        self.bits_flipped = 0
        self.bursts = 0

    def set_errors(self, *, ber=0.0, burst_prob=0.0, burst_bits=16, stuck=None):
        """Set the bit error rate, the burst chance per beat and a stuck lane ``(lane, bit)``."""
        if not 0.0 <= ber < 1.0:
            raise ValueError(f"ber must be in [0, 1), not {ber!r}")
        if not 0.0 <= burst_prob <= 1.0:
            raise ValueError(f"burst_prob must be in [0, 1], not {burst_prob!r}")
        if not 1 <= burst_bits <= self.width:
            raise ValueError(f"burst_bits must be in [1, {self.width}], not {burst_bits!r}")
        if stuck is not None and (not 0 <= stuck[0] < self.config.lanes or stuck[1] not in (0, 1)):
            raise ValueError(f"stuck must be (lane, 0 or 1), not {stuck!r}")
        self.ber = ber
        self.burst_prob = burst_prob
        self.burst_bits = burst_bits
        self.stuck = stuck
        self._next_error = int(self.rng.geometric(ber)) - 1 if ber > 0 else None

    def corrupt(self, word):
        """Return one beat (lane port value) with this direction's errors applied."""
        flips = 0
        if self._next_error is not None:
            while self._next_error < self.width:
                flips ^= 1 << self._next_error
                self._next_error += int(self.rng.geometric(self.ber))
            self._next_error -= self.width
        if self.burst_prob and self.rng.random() < self.burst_prob:
            length = self.burst_bits
            start = int(self.rng.integers(0, self.width - length + 1))
            burst = 1 | 1 << (length - 1)
            for i in range(1, length - 1):
                if self.rng.random() < 0.5:
                    burst |= 1 << i
            flips ^= burst << start
            self.bursts += 1
        corrupted = word ^ flips
        if self.stuck is not None:
            lane, bit = self.stuck
            lane_mask = ((1 << self.config.lane_bits) - 1) << (lane * self.config.lane_bits)
            corrupted = corrupted | lane_mask if bit else corrupted & ~lane_mask
        if corrupted != word:
            self.beats_corrupted += 1
            self.bits_flipped += bin(corrupted ^ word).count("1")
        return corrupted

    async def run(self):
        """Carry beats forever (start with ``cocotb.start_soon``)."""
        line = collections.deque([0] * self.latency)
        self.rx.value = 0
        while True:
            await RisingEdge(self.clock)
            line.append(self.corrupt(_read(self.tx)))
            self.beats += 1
            self.rx.value = line.popleft()


class FlitMonitor:
    """Decode the flits one end sends with the golden model and check them.

    Parameters
    ----------
    tx
        The ``lane_tx`` port.
    clock, reset
        Clock and reset; the monitor re-locks after a reset.
    config : D2DConfig
        Flit size and lanes.
    """

    def __init__(self, tx, clock, reset, config):
        self.tx, self.clock, self.reset, self.config = tx, clock, reset, config
        self.fmt = flit_format(config)
        self.errors = []
        self.counts = collections.Counter()
        self.advert = None
        self._restart()

    def _restart(self):
        self.messages = {0: collections.deque(), 1: collections.deque()}
        self._window = collections.deque(maxlen=self.config.beats_per_flit)
        self._phase = None
        self._next_new = 0
        self._sent = {}

    def expect(self, vc, payload):
        """Note a message offered to the sending end on ``vc`` (in offering order)."""
        self.messages[vc].append(bytes(payload))

    def clear(self):
        """Forget offered messages and re-lock (use around a reset)."""
        self._restart()

    def _fail(self, text):
        self.errors.append(text)
        raise AssertionError(text)

    def _flit(self):
        raw = 0
        for beat in self._window:
            raw = raw << self.config.beat_bits | beat
        return raw.to_bytes(self.fmt.flit_bytes, "big")

    def _check(self, raw):
        header, payload, crc_ok = unpack(self.fmt, raw)
        if not crc_ok or header is None:
            self._fail(f"flit sent with a bad CRC or header: {raw.hex()}")
        self.counts[header.type.name] += 1
        if header.type is FlitType.CTRL:
            if header.nak:
                self.counts["NAK"] += 1
            if payload != idle_payload(self.fmt):
                self._fail(f"CTRL flit with a payload other than the idle pattern: {raw.hex()}")
        if header.type is FlitType.TRAIN:
            advert = parse_train_payload(self.fmt, payload)
            if advert is None:
                self._fail(f"TRAIN flit with a malformed payload: {raw.hex()}")
            self.advert = advert
        if header.type is not FlitType.DATA:
            return
        if header.seq == self._next_new:
            queue = self.messages[header.vc]
            if not queue:
                self._fail(f"DATA flit seq {header.seq} on vc {header.vc} carries a message "
                           f"that was never offered: {payload.hex()}")
            wanted = queue.popleft()
            if payload != wanted:
                self._fail(f"DATA flit seq {header.seq} vc {header.vc}: payload "
                           f"{payload.hex()}, next offered {wanted.hex()}")
            self._sent[header.seq] = (header.vc, payload)
            self._next_new = (self._next_new + 1) % 256
            self.counts["DATA_NEW"] += 1
            self.counts[f"DATA_NEW_VC{header.vc}"] += 1
        else:
            if self._sent.get(header.seq) != (header.vc, payload):
                self._fail(f"replayed DATA flit seq {header.seq} differs from its first "
                           f"transmission {self._sent.get(header.seq)!r}")
            self.counts["DATA_REPLAY"] += 1

    async def run(self):
        """Watch forever (start with ``cocotb.start_soon``)."""
        beats = self.config.beats_per_flit
        count = 0
        while True:
            await RisingEdge(self.clock)
            if _read(self.reset):
                self._window.clear()
                self._phase = None
                continue
            self._window.append(beat_from_port(self.config, _read(self.tx)))
            count += 1
            if len(self._window) < beats:
                continue
            if self._phase is None:
                header, _, crc_ok = unpack(self.fmt, self._flit())
                if crc_ok and header is not None and header.type is FlitType.TRAIN:
                    self._phase = count % beats
                    self._check(self._flit())
            elif count % beats == self._phase:
                self._check(self._flit())
