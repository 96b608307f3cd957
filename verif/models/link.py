"""Go-back-N reference model of the die-to-die link layer.

The model is step driven, not cycle accurate: in each step each end of the link sends exactly
one flit (DATA if it has one, otherwise a CTRL flit, which doubles as the idle flit), each
:class:`LinkChannel` delivers the flit sent ``latency`` steps earlier, possibly corrupted, and
each end then takes in what arrived and lets its consumer drain its receive buffers. The RTL
tests compare what their link delivers, per virtual channel, with this model and with
:func:`expected_delivery`.

Protocol
--------
- The sender numbers DATA flits with 8-bit sequence numbers and keeps each in its
  ``replay_buffer`` (``replay_depth`` flits) until it is acknowledged. A new flit is admitted
  only if the replay buffer has room and the receiver has a credit for its virtual channel (VC).
- The receiver accepts only the flit with the sequence number it expects, puts it in the
  receive buffer of its VC, and acknowledges cumulatively: ``ack_seq`` is the last sequence
  number received in order, sent in every CTRL flit and, piggy-backed, in DATA flits.
- A CRC error or a sequence gap makes the receiver send one NAK (in a CTRL flit with the 2-byte
  header); it sends no other NAK until the flit it expects arrives. A duplicate (a flit it has
  already accepted) is dropped.
- On a NAK the sender goes back to the oldest unacknowledged flit and sends the replay buffer
  again in order. It does the same when no acknowledgement has made progress for ``timeout``
  steps while flits are outstanding (a lost NAK, a replayed flit corrupted again).
- Credits: the receiver returns, per VC in turn, its absolute credit limit (flits freed plus
  buffer depth) modulo ``2**fmt.credit_bits``; the sender may send while its count of flits
  sent on the VC is below the limit. Acknowledgements and credit limits are idempotent, so they
  are taken from every flit with a good CRC, in or out of sequence, and a lost one is made good
  by the next.
- Retrain (``simulate(outage=...)``): both ends stop sending DATA and their senders' credits
  drop to zero; the wires lose everything for a while, then each end sends TRAIN flits that
  advertise its receiver's credit limit per VC modulo 256 (:func:`verif.models.flit.
  train_payload`). A training sender sets its credits from the advertisement
  (:meth:`GoBackNSender.reinit_credits`); this equals the far end's free receive slots minus
  the sender's flits on the VC that the far end has not received
  (:meth:`GoBackNSender.unreceived`), which :func:`simulate` checks at every re-initialisation.
  Sequence numbers, replay buffers and receive buffers survive; on becoming active again each
  sender replays everything unacknowledged.

Analytic goodput
----------------
With bit error rate ``ber``, a flit of ``n`` bits is corrupted with probability
``p = 1 - (1 - ber)**n``. Under go-back-N each corrupted flit costs about one round trip of
``R`` flit slots (itself and the ``R - 1`` flits sent behind it before the NAK arrives, which are
sent again), so a delivered flit takes on average ``1 + R p / (1 - p)`` slots and

    goodput = payload_bytes / flit_bytes * min(1, replay_depth / R) * (1 - p) / (1 + (R - 1) p)

where ``min(1, replay_depth / R)`` is the stall of a replay buffer shorter than the round trip
(:func:`analytic_goodput`). For the 68 B flit at ``ber = 1e-9``, ``p = 5.4e-7`` and the goodput
is 0.941 for any practical ``R``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .flit import (
    FLIT_FPGA,
    NUM_VCS,
    SEQ_MODULUS,
    FlitFormat,
    FlitHeader,
    FlitType,
    pack,
    parse_train_payload,
    payload_efficiency,
    train_payload,
    unpack,
)

__all__ = [
    "EndpointCounters",
    "GoBackNReceiver",
    "GoBackNSender",
    "LinkChannel",
    "LinkEndpoint",
    "SimResult",
    "analytic_goodput",
    "decode_ack",
    "decode_credit_limit",
    "expected_delivery",
    "flit_error_probability",
    "round_trip",
    "simulate",
]

Message = tuple[int, bytes]


def decode_ack(carried: int, bits: int, last_acked: int, next_seq: int) -> int | None:
    """Expand an acknowledgement carried in its ``bits`` low bits against the sender's window.

    The acknowledged sequence number lies between the last one acknowledged and the last one
    sent; it is the only number in that range with the carried low bits, as long as the range
    holds at most ``2**bits`` numbers.

    Parameters
    ----------
    carried : int
        The ``ack_seq`` field as received.
    bits : int
        How many low bits of the sequence number it holds (5 or 8).
    last_acked : int
        Last sequence number acknowledged so far (255 before any).
    next_seq : int
        Sequence number the sender will give its next new flit.

    Returns
    -------
    int or None
        The acknowledged sequence number, or None if no number in the window matches.
    """
    outstanding = (next_seq - 1 - last_acked) % SEQ_MODULUS
    offset = (carried - last_acked) % (1 << bits)
    if offset > outstanding:
        return None
    return (last_acked + offset) % SEQ_MODULUS


def decode_credit_limit(carried: int, bits: int, known_limit: int) -> int:
    """Expand a credit limit carried modulo ``2**bits`` against the last one known.

    Exact while the limit cannot have grown by ``2**bits`` or more since the last known one,
    which holds when the receive buffer of the VC is at most ``2**bits - 1`` flits.

    Parameters
    ----------
    carried : int
        The ``credit_limit`` field as received.
    bits : int
        Its width.
    known_limit : int
        Credit limit known so far (never decreases).

    Returns
    -------
    int
        The credit limit.
    """
    return known_limit + (carried - known_limit) % (1 << bits)


def round_trip(latency: int) -> int:
    """Return the round trip of this model in flit slots for a one-way ``latency`` in steps.

    A flit sent in step ``t`` arrives in step ``t + latency``; its acknowledgement leaves in the
    next step and arrives ``latency`` steps later, so the slot is free again ``2 * latency + 2``
    steps after the flit was sent. A replay buffer at least this deep never stalls the sender.
    """
    return 2 * latency + 2


def flit_error_probability(fmt: FlitFormat, ber: float) -> float:
    """Return ``1 - (1 - ber)**fmt.flit_bits``, the chance that a flit has a bit error."""
    if not 0.0 <= ber < 1.0:
        raise ValueError(f"ber must be in [0, 1), not {ber!r}")
    return -math.expm1(fmt.flit_bits * math.log1p(-ber))


def analytic_goodput(
    fmt: FlitFormat, ber: float, round_trip: int, replay_depth: int | None = None
) -> float:
    """Return the expected goodput of a fully loaded go-back-N link (see the module docstring).

    Parameters
    ----------
    fmt : FlitFormat
        Flit format.
    ber : float
        Bit error rate of the channel.
    round_trip : int
        Flit slots from sending a flit to the arrival of its NAK or acknowledgement.
    replay_depth : int, optional
        Replay buffer depth; if shorter than ``round_trip`` the sender stalls. Omitted: deep
        enough.

    Returns
    -------
    float
        Payload bytes delivered per byte sent on the link, ``payload_efficiency(fmt)`` at
        ``ber = 0``.
    """
    if not isinstance(round_trip, int) or round_trip < 1:
        raise ValueError(f"round_trip must be a positive integer, not {round_trip!r}")
    if replay_depth is not None and (not isinstance(replay_depth, int) or replay_depth < 1):
        raise ValueError(f"replay_depth must be a positive integer, not {replay_depth!r}")
    p = flit_error_probability(fmt, ber)
    window = 1.0 if replay_depth is None else min(1.0, replay_depth / round_trip)
    return payload_efficiency(fmt) * window * (1.0 - p) / (1.0 + (round_trip - 1) * p)


def _check_message(fmt: FlitFormat, vc, payload) -> bytes:
    if not isinstance(vc, int) or not 0 <= vc < NUM_VCS:
        raise ValueError(f"vc must be in [0, {NUM_VCS - 1}], not {vc!r}")
    payload = bytes(payload)
    if len(payload) != fmt.payload_bytes:
        raise ValueError(f"payload must be {fmt.payload_bytes} bytes, not {len(payload)}")
    return payload


def expected_delivery(messages: Iterable[Message]) -> dict[int, list[bytes]]:
    """Return what the far end must deliver: per VC, each payload once, in submission order.

    Parameters
    ----------
    messages : iterable of (int, bytes)
        ``(vc, payload)`` pairs in the order they are offered to the sender.

    Returns
    -------
    dict of int to list of bytes
        Payloads per VC, with an entry (possibly empty) for every VC.
    """
    delivery: dict[int, list[bytes]] = {vc: [] for vc in range(NUM_VCS)}
    for vc, payload in messages:
        if not 0 <= vc < NUM_VCS:
            raise ValueError(f"vc must be in [0, {NUM_VCS - 1}], not {vc!r}")
        delivery[vc].append(bytes(payload))
    return delivery


@dataclass
class _ReplayEntry:
    seq: int
    vc: int
    payload: bytes
    transmissions: int = 0


class GoBackNSender:
    """Transmit half of a link end: sequence numbers, replay buffer, timeout, credits.

    Parameters
    ----------
    fmt : FlitFormat
        Flit format.
    replay_depth : int
        Replay buffer depth in flits, 1 to ``fmt.max_replay_depth``.
    timeout : int
        Steps without acknowledgement progress, while flits are outstanding, before a replay.
    peer_credits : int
        Receive buffer depth per VC at the far end, 1 to ``fmt.max_rx_credits``.
    """

    def __init__(self, *, fmt: FlitFormat, replay_depth: int, timeout: int, peer_credits: int):
        if not isinstance(replay_depth, int) or not 1 <= replay_depth <= fmt.max_replay_depth:
            raise ValueError(
                f"replay_depth must be in [1, {fmt.max_replay_depth}] for this flit format, "
                f"not {replay_depth!r}"
            )
        if not isinstance(timeout, int) or timeout < 1:
            raise ValueError(f"timeout must be a positive integer, not {timeout!r}")
        if not isinstance(peer_credits, int) or not 1 <= peer_credits <= fmt.max_rx_credits:
            raise ValueError(
                f"peer_credits must be in [1, {fmt.max_rx_credits}] for this flit format, "
                f"not {peer_credits!r}"
            )
        self._fmt = fmt
        self._replay_depth = replay_depth
        self._timeout = timeout
        self._peer_credits = peer_credits
        self._queues: list[deque[bytes]] = [deque() for _ in range(NUM_VCS)]
        self.replay_buffer: deque[_ReplayEntry] = deque()
        self._send_index = 0
        self.next_seq = 0
        self.last_acked = SEQ_MODULUS - 1
        self.credit_limit = [peer_credits] * NUM_VCS
        self.credits_used = [0] * NUM_VCS
        self._next_vc = 0
        self._timer = 0
        self.active = True
        self.data_flits_sent = 0
        self.retransmissions = 0
        self.replays = 0
        self.replay_timeouts = 0
        self.naks_received = 0
        self.bad_acks = 0

    @property
    def replay_depth(self) -> int:
        """Replay buffer depth in flits."""
        return self._replay_depth

    @property
    def timeout(self) -> int:
        """Replay timeout in steps."""
        return self._timeout

    @property
    def queued(self) -> int:
        """Messages offered but not yet admitted to the replay buffer."""
        return sum(len(queue) for queue in self._queues)

    def submit(self, vc: int, payload: bytes) -> None:
        """Offer a payload for virtual channel ``vc``; it is sent in order within its VC."""
        payload = _check_message(self._fmt, vc, payload)
        self._queues[vc].append(payload)

    def on_ack(self, carried: int, bits: int, *, nak: bool = False) -> None:
        """Retire acknowledged flits and, on a NAK, go back to the oldest unacknowledged one.

        Parameters
        ----------
        carried : int
            The ``ack_seq`` field as received.
        bits : int
            How many low bits of the sequence number it holds.
        nak : bool
            Whether the flit also carried a NAK.
        """
        acked = decode_ack(carried, bits, self.last_acked, self.next_seq)
        if acked is None:
            self.bad_acks += 1
            return
        retired = (acked - self.last_acked) % SEQ_MODULUS
        for _ in range(retired):
            self.replay_buffer.popleft()
        if retired:
            self.last_acked = acked
            self._send_index = max(0, self._send_index - retired)
            self._timer = 0
        if nak:
            self.naks_received += 1
            if self.replay_buffer:
                self._go_back()

    def on_credit(self, vc: int, carried: int) -> None:
        """Take in a credit limit for ``vc`` carried modulo ``2**fmt.credit_bits``."""
        self.credit_limit[vc] = decode_credit_limit(
            carried, self._fmt.credit_bits, self.credit_limit[vc]
        )

    def credits(self, vc: int) -> int:
        """Return the flits ``vc`` may still admit: credit limit minus flits admitted."""
        return self.credit_limit[vc] - self.credits_used[vc]

    def unreceived(self, expected_seq: int) -> list[int]:
        """Count, per VC, the replay buffer entries from ``expected_seq`` on.

        These are the flits a receiver expecting ``expected_seq`` has not received; a replay
        will put them in its receive buffers.
        """
        counts = [0] * NUM_VCS
        for entry in self.replay_buffer:
            if (entry.seq - expected_seq) % SEQ_MODULUS < SEQ_MODULUS // 2:
                counts[entry.vc] += 1
        return counts

    def retrain(self) -> None:
        """Stop sending DATA flits and drop every credit until :meth:`reinit_credits`."""
        self.active = False
        self.credit_limit = list(self.credits_used)

    def reinit_credits(self, vc: int, advertised: int) -> None:
        """Set the credit limit of ``vc`` from a TRAIN flit's advertisement (modulo 256).

        The full limit is the one number at or above the flits admitted with these low 8 bits:
        the true limit lies in ``[admitted, admitted + peer_credits]``.
        """
        limit = self.credits_used[vc] + (advertised - self.credits_used[vc]) % SEQ_MODULUS
        if limit - self.credits_used[vc] > self._peer_credits:
            raise RuntimeError(f"advertised credit limit {advertised} of vc {vc} is more than "
                               f"{self._peer_credits} above the {self.credits_used[vc]} "
                               "flits admitted: credit protocol broken")
        self.credit_limit[vc] = limit

    def resume(self) -> None:
        """Become active again after training: replay everything unacknowledged."""
        self.active = True
        self._go_back()

    def _go_back(self) -> None:
        self._send_index = 0
        self._timer = 0
        self.replays += 1

    def next_flit(self) -> _ReplayEntry | None:
        """Return the DATA flit to send in this slot, replayed or new, or None to idle."""
        if not self.active:
            return None
        if self._send_index < len(self.replay_buffer):
            entry = self.replay_buffer[self._send_index]
        elif len(self.replay_buffer) < self._replay_depth and (entry := self._admit()):
            self.replay_buffer.append(entry)
        else:
            return None
        self._send_index += 1
        entry.transmissions += 1
        self.data_flits_sent += 1
        if entry.transmissions > 1:
            self.retransmissions += 1
        return entry

    def _admit(self) -> _ReplayEntry | None:
        for i in range(NUM_VCS):
            vc = (self._next_vc + i) % NUM_VCS
            if self._queues[vc] and self.credits_used[vc] < self.credit_limit[vc]:
                self._next_vc = (vc + 1) % NUM_VCS
                self.credits_used[vc] += 1
                entry = _ReplayEntry(self.next_seq, vc, self._queues[vc].popleft())
                self.next_seq = (self.next_seq + 1) % SEQ_MODULUS
                return entry
        return None

    def tick(self) -> None:
        """Advance the replay timer by one step; go back if it expires."""
        if not self.replay_buffer:
            self._timer = 0
            return
        self._timer += 1
        if self._timer >= self._timeout:
            self.replay_timeouts += 1
            self._go_back()


class GoBackNReceiver:
    """Receive half of a link end: in-order acceptance, NAKs, receive buffers, credits.

    Parameters
    ----------
    fmt : FlitFormat
        Flit format.
    rx_credits : int
        Receive buffer depth per VC in flits, 1 to ``fmt.max_rx_credits``.
    """

    def __init__(self, *, fmt: FlitFormat, rx_credits: int):
        if not isinstance(rx_credits, int) or not 1 <= rx_credits <= fmt.max_rx_credits:
            raise ValueError(
                f"rx_credits must be in [1, {fmt.max_rx_credits}] for this flit format, "
                f"not {rx_credits!r}"
            )
        self._fmt = fmt
        self._rx_credits = rx_credits
        self.expected_seq = 0
        self.rx_buffers: list[deque[bytes]] = [deque() for _ in range(NUM_VCS)]
        self.freed = [0] * NUM_VCS
        self.delivered: dict[int, list[bytes]] = {vc: [] for vc in range(NUM_VCS)}
        self._nak_scheduled = False
        self._nak_pending = False
        self.accepted = 0
        self.crc_errors = 0
        self.seq_gaps = 0
        self.duplicates = 0
        self.naks_sent = 0

    @property
    def rx_credits(self) -> int:
        """Receive buffer depth per VC in flits."""
        return self._rx_credits

    @property
    def ack_seq(self) -> int:
        """Last sequence number received in order (255 before any)."""
        return (self.expected_seq - 1) % SEQ_MODULUS

    def credit_limit(self, vc: int) -> int:
        """Return the absolute credit limit of ``vc``: flits freed plus buffer depth."""
        return self.freed[vc] + self._rx_credits

    def free_slots(self, vc: int) -> int:
        """Return the free entries of the receive buffer of ``vc``."""
        return self._rx_credits - len(self.rx_buffers[vc])

    def advertisement(self) -> list[int]:
        """Return the credit limits per VC modulo 256, as a TRAIN flit advertises them."""
        return [self.credit_limit(vc) % SEQ_MODULUS for vc in range(NUM_VCS)]

    def clear_nak(self) -> None:
        """Forget a scheduled NAK (the replay after training makes it moot)."""
        self._nak_scheduled = False
        self._nak_pending = False

    def _schedule_nak(self) -> None:
        if not self._nak_scheduled:
            self._nak_scheduled = True
            self._nak_pending = True

    def on_bad_flit(self) -> None:
        """Note a flit that failed its CRC check (or had an undecodable header)."""
        self.crc_errors += 1
        self._schedule_nak()

    def on_data(self, vc: int, seq: int, payload: bytes) -> None:
        """Accept, drop as duplicate, or NAK as a sequence gap, a DATA flit with a good CRC."""
        distance = (seq - self.expected_seq) % SEQ_MODULUS
        if distance == 0:
            if len(self.rx_buffers[vc]) >= self._rx_credits:
                raise RuntimeError(f"receive buffer of vc {vc} overflowed: credit protocol broken")
            self.rx_buffers[vc].append(bytes(payload))
            self.expected_seq = (self.expected_seq + 1) % SEQ_MODULUS
            self.accepted += 1
            self._nak_scheduled = False
        elif distance < SEQ_MODULUS // 2:
            self.seq_gaps += 1
            self._schedule_nak()
        else:
            self.duplicates += 1

    def take_nak(self) -> bool:
        """Return whether a NAK is due in the next flit sent, and mark it sent."""
        if not self._nak_pending:
            return False
        self._nak_pending = False
        self.naks_sent += 1
        return True

    def drain(self, vc: int) -> bytes | None:
        """Hand the oldest flit of ``vc`` to the consumer and free its credit."""
        if not self.rx_buffers[vc]:
            return None
        payload = self.rx_buffers[vc].popleft()
        self.freed[vc] += 1
        self.delivered[vc].append(payload)
        return payload


@dataclass(frozen=True)
class EndpointCounters:
    """Counters of one link end.

    ``naks_sent``, ``crc_errors``, ``seq_gaps``, ``duplicates`` and ``accepted`` are its
    receiver's; ``bad_acks`` counts acknowledgements outside the sender's window, which only
    an error the CRC missed can produce.
    """

    flits_sent: int = 0
    data_flits_sent: int = 0
    ctrl_flits_sent: int = 0
    retransmissions: int = 0
    replays: int = 0
    replay_timeouts: int = 0
    naks_sent: int = 0
    naks_received: int = 0
    crc_errors: int = 0
    seq_gaps: int = 0
    duplicates: int = 0
    accepted: int = 0
    bad_acks: int = 0


class LinkEndpoint:
    """One end of the link: a :class:`GoBackNSender` and a :class:`GoBackNReceiver`.

    The receiver's acknowledgements, NAKs and credit limits ride on the sender's flits: every
    CTRL flit carries all three; with the 2-byte header DATA flits alternate between the
    acknowledgement and a credit limit, and a NAK pre-empts data for one CTRL flit.

    Parameters
    ----------
    fmt : FlitFormat
        Flit format.
    replay_depth : int
        Replay buffer depth of the sender.
    timeout : int
        Replay timeout of the sender, in steps.
    rx_credits : int
        Receive buffer depth per VC, the same at both ends.
    """

    def __init__(self, *, fmt: FlitFormat, replay_depth: int, timeout: int, rx_credits: int):
        self._fmt = fmt
        self.sender = GoBackNSender(
            fmt=fmt, replay_depth=replay_depth, timeout=timeout, peer_credits=rx_credits
        )
        self.receiver = GoBackNReceiver(fmt=fmt, rx_credits=rx_credits)
        self._credit_vc = 0
        self._ack_turn = True
        self.training = False
        self.train_seq = 0
        self.good_in_training = 0
        self.credit_reinits = 0
        self.flits_sent = 0
        self.ctrl_flits_sent = 0

    def start_retrain(self) -> None:
        """Leave the active state: send TRAIN flits, sender credits to zero."""
        self.training = True
        self.good_in_training = 0
        self.sender.retrain()

    def finish_training(self) -> None:
        """Become active again: the sender replays everything unacknowledged."""
        self.training = False
        self.receiver.clear_nak()
        self.sender.resume()

    def _credit_return(self) -> tuple[int, int]:
        vc = self._credit_vc
        self._credit_vc = (vc + 1) % NUM_VCS
        return vc, self.receiver.credit_limit(vc) % (1 << self._fmt.credit_bits)

    def transmit(self) -> bytes:
        """Build the flit this end sends in the current step."""
        fmt = self._fmt
        if self.training:
            header = FlitHeader(type=FlitType.TRAIN, seq=self.train_seq)
            self.train_seq = (self.train_seq + 1) % SEQ_MODULUS
            self.flits_sent += 1
            payload = train_payload(fmt, locked=True,
                                    credit_limits=self.receiver.advertisement())
            return pack(fmt, header, payload)
        nak = self.receiver.take_nak()
        # With the 2-byte header only a CTRL flit can carry the NAK, so it pre-empts data.
        entry = None if nak and fmt.header_bytes == 2 else self.sender.next_flit()
        ack = self.receiver.ack_seq
        if entry is None:
            credit_vc, limit = self._credit_return()
            header = FlitHeader(
                type=FlitType.CTRL, ack_seq=ack, nak=nak, credit_vc=credit_vc, credit_limit=limit
            )
            payload = None
            self.ctrl_flits_sent += 1
        elif fmt.header_bytes == 4:
            credit_vc, limit = self._credit_return()
            header = FlitHeader(
                type=FlitType.DATA, vc=entry.vc, seq=entry.seq, ack_seq=ack, nak=nak,
                credit_vc=credit_vc, credit_limit=limit,
            )
            payload = entry.payload
        else:
            if self._ack_turn:
                ack_field = ack % (1 << fmt.ack_bits(FlitType.DATA))
                header = FlitHeader(
                    type=FlitType.DATA, vc=entry.vc, seq=entry.seq, ack_seq=ack_field
                )
            else:
                credit_vc, limit = self._credit_return()
                header = FlitHeader(
                    type=FlitType.DATA, vc=entry.vc, seq=entry.seq, credit_vc=credit_vc,
                    credit_limit=limit,
                )
            self._ack_turn = not self._ack_turn
            payload = entry.payload
        self.flits_sent += 1
        return pack(fmt, header, payload)

    def receive(self, raw: bytes | None) -> None:
        """Take in the flit that arrived in the current step, if any."""
        if raw is None:
            return
        header, payload, crc_ok = unpack(self._fmt, raw)
        advert = None
        if crc_ok and header is not None and header.type is FlitType.TRAIN:
            advert = parse_train_payload(self._fmt, payload)
        if not crc_ok or header is None or (header.type is FlitType.TRAIN and advert is None):
            if not self.training:
                self.receiver.on_bad_flit()
            return
        if self.training:
            # Only TRAIN flits count while training; DATA is dropped (replayed later).
            self.good_in_training += 1
            if advert is not None:
                for vc, limit in enumerate(advert[1]):
                    self.sender.reinit_credits(vc, limit)
                self.credit_reinits += 1
            return
        if header.type is FlitType.TRAIN:
            return
        if header.ack_seq is not None:
            self.sender.on_ack(header.ack_seq, self._fmt.ack_bits(header.type), nak=header.nak)
        if header.credit_limit is not None:
            self.sender.on_credit(header.credit_vc, header.credit_limit)
        if header.type is FlitType.DATA:
            self.receiver.on_data(header.vc, header.seq, payload)

    def counters(self) -> EndpointCounters:
        """Return a snapshot of this end's counters."""
        s, r = self.sender, self.receiver
        return EndpointCounters(
            flits_sent=self.flits_sent,
            data_flits_sent=s.data_flits_sent,
            ctrl_flits_sent=self.ctrl_flits_sent,
            retransmissions=s.retransmissions,
            replays=s.replays,
            replay_timeouts=s.replay_timeouts,
            naks_sent=r.naks_sent,
            naks_received=s.naks_received,
            crc_errors=r.crc_errors,
            seq_gaps=r.seq_gaps,
            duplicates=r.duplicates,
            accepted=r.accepted,
            bad_acks=s.bad_acks,
        )


class LinkChannel:
    """One direction of the physical link: a delay line that corrupts flits.

    Each flit gets independent bit errors at ``ber`` and, with probability ``burst_prob``, a
    burst error: ``burst_bits`` consecutive bits of which the first and the last are flipped and
    each one between with probability 1/2. CRC-16 detects every burst of up to 16 bits.

    Parameters
    ----------
    latency : int
        Steps from sending a flit to its arrival, at least 1.
    ber : float
        Bit error rate.
    rng : numpy.random.Generator
        Source of the errors.
    burst_prob : float
        Chance that a flit suffers a burst error.
    burst_bits : int
        Length of a burst error in bits, at least 1.
    forced_errors : iterable of int
        Indices (from 0, in sending order) of flits that get one flipped bit regardless.
    """

    def __init__(
        self,
        *,
        latency: int = 1,
        ber: float = 0.0,
        rng: np.random.Generator,
        burst_prob: float = 0.0,
        burst_bits: int = 16,
        forced_errors: Iterable[int] = (),
    ):
        if not isinstance(latency, int) or latency < 1:
            raise ValueError(f"latency must be a positive integer, not {latency!r}")
        if not 0.0 <= ber < 1.0:
            raise ValueError(f"ber must be in [0, 1), not {ber!r}")
        if not 0.0 <= burst_prob <= 1.0:
            raise ValueError(f"burst_prob must be in [0, 1], not {burst_prob!r}")
        if not isinstance(burst_bits, int) or burst_bits < 1:
            raise ValueError(f"burst_bits must be a positive integer, not {burst_bits!r}")
        self._ber = ber
        self._rng = rng
        self._burst_prob = burst_prob
        self._burst_bits = burst_bits
        self._forced_errors = frozenset(forced_errors)
        self._line: deque[bytes | None] = deque([None] * latency)
        self.down = False
        self.flits = 0
        self.flits_corrupted = 0
        self.bits_flipped = 0

    def corrupt(self, raw: bytes) -> bytes:
        """Return ``raw`` with this channel's errors applied to it (counts it as one flit)."""
        nbits = 8 * len(raw)
        flips: list[int] = []
        if self._ber > 0.0:
            count = int(self._rng.binomial(nbits, self._ber))
            if count:
                flips.extend(int(p) for p in self._rng.choice(nbits, size=count, replace=False))
        if self._burst_prob > 0.0 and self._rng.random() < self._burst_prob:
            length = min(self._burst_bits, nbits)
            start = int(self._rng.integers(0, nbits - length + 1))
            middle = self._rng.integers(0, 2, size=max(0, length - 2))
            flips.append(start)
            if length > 1:
                flips.append(start + length - 1)
            flips.extend(start + 1 + int(i) for i in np.flatnonzero(middle))
        if self.flits in self._forced_errors:
            flips.append(int(self._rng.integers(0, nbits)))
        self.flits += 1
        if not flips:
            return raw
        corrupted = bytearray(raw)
        for position in flips:
            corrupted[position >> 3] ^= 0x80 >> (position & 7)
        self.bits_flipped += len(flips)
        if bytes(corrupted) != raw:
            self.flits_corrupted += 1
        return bytes(corrupted)

    def set_down(self, down: bool) -> None:
        """Break the wires (every flit on them and sent over them is lost) or mend them."""
        self.down = down
        if down:
            self._line = deque([None] * len(self._line))

    def transfer(self, raw: bytes | None) -> bytes | None:
        """Send ``raw`` (None: nothing) and return what arrives in this step (or None)."""
        self._line.append(None if raw is None or self.down else self.corrupt(raw))
        return self._line.popleft()


@dataclass
class SimResult:
    """Outcome of :func:`simulate`.

    Attributes
    ----------
    delivered : dict of int to list of bytes
        Payloads the far end delivered, per VC, in order.
    reverse_delivered : dict of int to list of bytes
        Payloads the near end delivered (from ``reverse_messages``), per VC.
    near_end, far_end : EndpointCounters
        Counters of the end that sends ``messages`` and of the other end.
    credit_reinits : list of (list of int, list of int)
        For every credit re-initialisation from a TRAIN flit: the credits per VC predicted
        when the flit was sent (the advertiser's free receive slots minus the receiving
        sender's flits on the VC not yet received, :meth:`GoBackNSender.unreceived`) and the
        credits the sender then had.
    credit_range : (int, int)
        Smallest and largest credit count of any sender and VC after any step.
    flits_corrupted : int
        Flits the channels corrupted, both directions.
    steps : int
        Steps simulated; each end sent one flit per step.
    payload_bytes, flit_bytes : int
        From the flit format.
    """

    delivered: dict[int, list[bytes]]
    reverse_delivered: dict[int, list[bytes]]
    near_end: EndpointCounters
    far_end: EndpointCounters
    flits_corrupted: int
    steps: int
    payload_bytes: int
    flit_bytes: int
    credit_reinits: list[tuple[list[int], list[int]]] = field(default_factory=list)
    credit_range: tuple[int, int] = (0, 0)

    @property
    def flits_sent(self) -> int:
        """Flits sent by both ends."""
        return self.near_end.flits_sent + self.far_end.flits_sent

    @property
    def replays(self) -> int:
        """Go-back-N replays (on NAK or timeout) by both ends."""
        return self.near_end.replays + self.far_end.replays

    @property
    def naks(self) -> int:
        """NAKs sent by both ends."""
        return self.near_end.naks_sent + self.far_end.naks_sent

    @property
    def crc_errors(self) -> int:
        """Flits that failed the CRC check at either end."""
        return self.near_end.crc_errors + self.far_end.crc_errors

    @property
    def goodput(self) -> float:
        """Payload bytes delivered to the far end per byte the near end sent."""
        delivered = sum(len(payloads) for payloads in self.delivered.values())
        return delivered * self.payload_bytes / (self.steps * self.flit_bytes)


def simulate(
    messages: Iterable[Message],
    ber: float = 0.0,
    seed: int = 0,
    replay_depth: int = 16,
    timeout: int | None = None,
    *,
    fmt: FlitFormat = FLIT_FPGA,
    latency: int = 4,
    rx_credits: int | None = None,
    burst_prob: float = 0.0,
    burst_bits: int = 16,
    forced_errors: Iterable[int] = (),
    reverse_messages: Iterable[Message] = (),
    drain_prob: float = 1.0,
    max_steps: int | None = None,
    outage: tuple[int, int] | None = None,
    train_flits: int = 2,
) -> SimResult:
    """Run the go-back-N link until every message has been delivered.

    Parameters
    ----------
    messages : iterable of (int, bytes)
        ``(vc, payload)`` pairs the near end sends, all offered at the start.
    ber : float
        Bit error rate of both directions.
    seed : int
        Seed of the numpy Generator behind the errors and the consumer's pace.
    replay_depth : int
        Replay buffer depth of both ends; at least :func:`round_trip` ``(latency)`` (one more
        with the 2-byte header) for full speed.
    timeout : int, optional
        Replay timeout in steps; default ``2 * round_trip(latency) + 4``.
    fmt : FlitFormat
        Flit format.
    latency : int
        One-way channel latency in steps.
    rx_credits : int, optional
        Receive buffer depth per VC; default ``fmt.max_rx_credits``.
    burst_prob, burst_bits : float, int
        Burst errors, see :class:`LinkChannel`.
    forced_errors : iterable of int
        Indices of near-end flits that get a bit error regardless of ``ber``.
    reverse_messages : iterable of (int, bytes)
        Payloads the far end sends back at the same time (acknowledgements then ride on data).
    drain_prob : float
        Chance per step and VC that a consumer takes a flit from its receive buffer.
    max_steps : int, optional
        Give up (``RuntimeError``) after this many steps; default generous.
    outage : (int, int), optional
        Steps ``[start, stop)`` during which both directions lose every flit (those on the wires
        at ``start`` too). At ``start`` both ends retrain (see the module docstring); each
        becomes active again after ``train_flits`` good flits received after the outage.
    train_flits : int
        Good flits an end needs to receive while training to become active again.

    Returns
    -------
    SimResult
        Deliveries per VC and counters.
    """
    messages = list(messages)
    reverse_messages = list(reverse_messages)
    if timeout is None:
        timeout = 2 * round_trip(latency) + 4
    if rx_credits is None:
        rx_credits = fmt.max_rx_credits
    if not 0.0 < drain_prob <= 1.0:
        raise ValueError(f"drain_prob must be in (0, 1], not {drain_prob!r}")
    total = len(messages) + len(reverse_messages)
    if outage is not None and not (
        isinstance(outage, tuple) and len(outage) == 2 and 0 <= outage[0] < outage[1]
    ):
        raise ValueError(f"outage must be (start, stop) with 0 <= start < stop, not {outage!r}")
    if not isinstance(train_flits, int) or train_flits < 1:
        raise ValueError(f"train_flits must be a positive integer, not {train_flits!r}")
    if max_steps is None:
        max_steps = 1000 + 100 * total * max(1, math.ceil(1 / drain_prob))
        if outage is not None:
            max_steps += outage[1]
    channel_rng, reverse_rng, drain_rng = np.random.default_rng(seed).spawn(3)
    ends = [
        LinkEndpoint(fmt=fmt, replay_depth=replay_depth, timeout=timeout, rx_credits=rx_credits)
        for _ in range(2)
    ]
    near, far = ends
    for vc, payload in messages:
        near.sender.submit(vc, payload)
    for vc, payload in reverse_messages:
        far.sender.submit(vc, payload)
    forward = LinkChannel(
        latency=latency, ber=ber, rng=channel_rng, burst_prob=burst_prob,
        burst_bits=burst_bits, forced_errors=forced_errors,
    )
    backward = LinkChannel(
        latency=latency, ber=ber, rng=reverse_rng, burst_prob=burst_prob, burst_bits=burst_bits
    )
    channels = (forward, backward)
    # Credits the receiving end should get from each TRAIN flit on the wires, alongside it.
    predictions = [deque([None] * latency) for _ in channels]
    reinits = []
    low, high = rx_credits, 0
    delivered = 0
    steps = 0
    while delivered < total:
        if steps >= max_steps:
            raise RuntimeError(
                f"link delivered {delivered} of {total} messages in max_steps={max_steps} steps"
            )
        if outage is not None and steps in outage:
            for channel, line in zip(channels, predictions, strict=True):
                channel.set_down(steps == outage[0])
                if steps == outage[0]:  # what was on the wires is lost
                    line.clear()
                    line.extend([None] * latency)
            if steps == outage[0]:
                for end in ends:
                    end.start_retrain()
        for sender_end, receiver_end, channel, line in (
            (near, far, forward, predictions[0]),
            (far, near, backward, predictions[1]),
        ):
            prediction = None
            if sender_end.training:
                expected = sender_end.receiver.expected_seq
                unreceived = receiver_end.sender.unreceived(expected)
                prediction = [sender_end.receiver.free_slots(vc) - unreceived[vc]
                              for vc in range(NUM_VCS)]
            arriving = channel.transfer(sender_end.transmit())
            line.append(None if channel.down else prediction)
            prediction = line.popleft()
            reinits_before = receiver_end.credit_reinits
            receiver_end.receive(arriving)
            if receiver_end.credit_reinits != reinits_before:
                actual = [receiver_end.sender.credits(vc) for vc in range(NUM_VCS)]
                reinits.append((prediction, actual))
        for end in ends:
            if end.training and not any(c.down for c in channels) and (
                end.good_in_training >= train_flits
            ):
                end.finish_training()
        for end in ends:
            for vc in range(NUM_VCS):
                if drain_prob >= 1.0 or drain_rng.random() < drain_prob:
                    if end.receiver.drain(vc) is not None:
                        delivered += 1
            end.sender.tick()
            for vc in range(NUM_VCS):
                low = min(low, end.sender.credits(vc))
                high = max(high, end.sender.credits(vc))
        steps += 1
    return SimResult(
        delivered=far.receiver.delivered,
        reverse_delivered=near.receiver.delivered,
        near_end=near.counters(),
        far_end=far.counters(),
        flits_corrupted=forward.flits_corrupted + backward.flits_corrupted,
        steps=steps,
        payload_bytes=fmt.payload_bytes,
        flit_bytes=fmt.flit_bytes,
        credit_reinits=reinits,
        credit_range=(low, high),
    )
