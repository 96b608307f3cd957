"""One end of the die-to-die link: link layer (flits, CRC, go-back-N replay, credits) and
link state machine over a serializer/deserializer.

Transmit path
-------------
Every flit slot the *flit builder* fills its output register with exactly one flit, in this
order of preference: a TRAIN flit while the link is not active; a CTRL flit carrying a NAK;
the next DATA flit of a replay (read from the ``replay_buffer``, a :class:`Memory` with a
synchronous read port whose address is the next value of ``send_seq``, so that its data is
always the entry at ``send_seq``); a new DATA flit, admitted when the replay buffer has room
and the far end has a credit for its virtual channel (VCs served round robin), written to the
replay buffer as it is sent; otherwise an idle CTRL flit. DATA flits alternate between carrying
the acknowledgement (5 low bits) and a credit return; CTRL flits carry both. The CRC is one XOR
tree per bit over the header and payload (:mod:`hdl.link.d2d.crc`).

Receive path
------------
The deserializer hands over one flit per flit slot. Its CRC and format (CTRL and TRAIN payload
patterns) are checked in the same cycle. A good flit's acknowledgement retires replay buffer
entries (cumulatively; a NAK also sends the transmitter back to the oldest unacknowledged
flit), its credit return raises the credit limit of its VC, and a DATA flit is accepted into the
receive buffer of its VC only if it carries the expected sequence number; a bad flit or a
sequence gap schedules one NAK (no further NAK until the expected flit arrives), a duplicate is
dropped. When no acknowledgement makes progress for ``replay_timeout`` cycles while flits are
outstanding, the transmitter replays as well.

Link state machine
------------------
``RESET`` -> ``TRAIN``: send TRAIN flits; the receiver slips the flit boundary one beat at a
time until ``train_flits`` consecutive good TRAIN flits arrive (locked), then marks its own
TRAIN flits locked. A locked end goes ``ACTIVE`` when it sees a locked TRAIN flit or any good
CTRL/DATA flit from the far end. ``retrain_errors`` consecutive bad flits while active, or a
searching TRAIN flit from the far end, send the link back to ``TRAIN`` (counted in
``status.retrains``). Sequence numbers, the replay buffer and the receive buffers survive a
retrain: nothing accepted is lost. The credits are re-initialised: a retrain sets the
transmitter's credits to zero, and every TRAIN flit advertises its sender's full 8-bit receive
credit limit per VC (flits taken by the consumer plus ``rx_credits``), from which a training
transmitter sets its credit limit; the credits it gets are the far end's free receive slots minus
its own flits in flight on that VC, which the replay on re-entering ``ACTIVE`` will put there
(see ``docs/d2d.md``).
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import D2DConfig
from .crc import crc16_value
from .flit import (
    TRAIN_LOCKED,
    TRAIN_SEARCHING,
    FlitType,
    LinkState,
    flit_layout,
    idle_pattern,
    payload_bytes_value,
    train_pattern,
    vc_payload_layout,
)
from .lanes import Deserializer, Serializer, lanes_layout

__all__ = ["D2DLink", "status_layout", "NUM_VCS"]

#: Virtual channels: 0 requests, 1 responses.
NUM_VCS = 2

_COUNTER = 32


def status_layout():
    """Return the layout of the ``status`` port (state, credits and counters)."""
    return data.StructLayout({
        "state": 2,
        "credits": data.ArrayLayout(8, NUM_VCS),
        "rx_overflow": 1,
        "retrains": 16,
        "flit_errors": _COUNTER,
        "seq_gaps": _COUNTER,
        "duplicates": _COUNTER,
        "naks_sent": _COUNTER,
        "naks_received": _COUNTER,
        "replays": _COUNTER,
        "timeouts": _COUNTER,
        "retransmissions": _COUNTER,
        "data_flits": _COUNTER,
    })


class D2DLink(wiring.Component):
    """One end of the die-to-die link with two virtual channels.

    Parameters
    ----------
    config : D2DConfig
        Flit size, lanes, buffer depths and timeouts.

    Attributes
    ----------
    tx_req, tx_rsp : In(stream.Signature({"data": payload_bytes x 8}))
        Messages to send on the request (VC 0) and response (VC 1) channels.
    rx_req, rx_rsp : Out(stream.Signature({"data": payload_bytes x 8}))
        Messages received from the far end, per VC, each exactly once and in order.
    lane_tx : Out(lanes x lane_bits)
        Beat sent to the far end this cycle.
    lane_rx : In(lanes x lane_bits)
        Beat arriving from the far end this cycle.
    status : Out(status_layout())
        Link state, credits available per VC (never above ``rx_credits``), a sticky receive
        buffer overflow flag (never set) and error/replay counters.
    """

    def __init__(self, *, config=None):
        if config is None:
            config = D2DConfig.fpga()
        if not isinstance(config, D2DConfig):
            self._MustUse__silence = True  # a rejected component is not "unused"
            raise TypeError(f"config must be a D2DConfig, not {config!r}")
        self._config = config
        message = vc_payload_layout(config.payload_bytes)
        super().__init__({
            "tx_req": In(stream.Signature(message)),
            "tx_rsp": In(stream.Signature(message)),
            "rx_req": Out(stream.Signature(message)),
            "rx_rsp": Out(stream.Signature(message)),
            "lane_tx": Out(lanes_layout(config)),
            "lane_rx": In(lanes_layout(config)),
            "status": Out(status_layout()),
        })

    @property
    def config(self):
        """The link's configuration."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        nbytes = cfg.payload_bytes
        payload_bits = 8 * nbytes
        message_bits = cfg.flit_bits - 16
        layout = flit_layout(nbytes)
        st = self.status
        txs = [self.tx_req, self.tx_rsp]
        rxs = [self.rx_req, self.rx_rsp]

        m.submodules.serializer = ser = Serializer(config=cfg)
        m.submodules.deserializer = des = Deserializer(config=cfg)
        m.d.comb += [self.lane_tx.eq(ser.lanes), des.lanes.eq(self.lane_rx)]

        state = Signal(LinkState, init=LinkState.RESET)
        m.d.comb += st.state.eq(state)
        active = state == LinkState.ACTIVE

        # Replay buffer: entry seq % depth holds DATA flit seq until it is acknowledged.
        addr_bits = max(1, ceil_log2(cfg.replay_depth))
        entry_layout = data.StructLayout({"payload": payload_bits, "vc": 1})
        m.submodules.replay_buffer = replay_buffer = Memory(
            shape=entry_layout, depth=2**addr_bits, init=[])
        replay_wr = replay_buffer.write_port()
        replay_rd = replay_buffer.read_port(transparent_for=(replay_wr,))

        # Transmit state.
        next_seq = Signal(8)              # sequence number of the next new DATA flit
        acked = Signal(8, init=255)       # last sequence number acknowledged
        acked_p1 = Signal(8)              # acked + 1, the oldest unacknowledged flit
        last_seq = Signal(8, init=255)    # next_seq - 1, the newest flit sent
        send_seq = Signal(8)              # next sequence number to send (replay pointer)
        send_seq_next = Signal(8)
        replay_left = Signal(5)           # next_seq - send_seq: flits still to replay
        replay_left_next = Signal(5)
        timer = Signal(range(cfg.replay_timeout))
        lc_toggle = Signal()              # DATA flit carries: 0 the ack, 1 a credit return
        credit_turn = Signal()            # VC whose credit limit goes out next
        rr_vc = Signal()                  # round-robin pointer of new DATA flits
        train_seq = Signal(8)
        peer_limit = [Signal(8, init=cfg.rx_credits, name=f"peer_limit{vc}")
                      for vc in range(NUM_VCS)]
        peer_used = [Signal(8, name=f"peer_used{vc}") for vc in range(NUM_VCS)]
        credit_sent = [Signal(4, init=cfg.rx_credits % 16, name=f"credit_sent{vc}")
                       for vc in range(NUM_VCS)]

        # Receive state.
        expected = Signal(8)              # sequence number the receiver accepts next
        nak_scheduled = Signal()
        nak_pending = Signal()
        freed = [Signal(8, name=f"freed{vc}") for vc in range(NUM_VCS)]
        locked = Signal()
        train_good = Signal(range(16))
        bad_run = Signal(8)               # consecutive bad flits

        # Flits sent and not yet acknowledged, ``next_seq - 1 - acked``, kept as a register so
        # that the transmit decision does not wait for a subtraction.
        outstanding = Signal(8)
        new_sent = Signal()               # a new DATA flit is loaded this cycle
        rx_ack = Signal(8)
        m.d.comb += rx_ack.eq(expected - 1)
        credits = [Signal(8, name=f"credits{vc}") for vc in range(NUM_VCS)]
        for vc in range(NUM_VCS):
            m.d.comb += [credits[vc].eq(peer_limit[vc] - peer_used[vc]),
                         st.credits[vc].eq(credits[vc])]
        # The receiver's credit limit per VC: flits freed plus the buffer depth, in full (8 bits,
        # advertised in TRAIN flits) and modulo 16 (credit returns).
        own_limit_full = [Signal(8, name=f"own_limit_full{vc}") for vc in range(NUM_VCS)]
        own_limit = [Signal(4, name=f"own_limit{vc}") for vc in range(NUM_VCS)]
        for vc in range(NUM_VCS):
            m.d.comb += [own_limit_full[vc].eq(freed[vc] + cfg.rx_credits),
                         own_limit[vc].eq(own_limit_full[vc][:4])]

        def count(counter):
            m.d.sync += counter.eq(counter + 1)

        # ---- Flit builder -------------------------------------------------------------------
        out_flit = Signal(layout)
        out_valid = Signal()
        m.d.comb += [ser.flit.payload.as_value()[16:].eq(out_flit.as_value()[16:]),
                     ser.flit.valid.eq(out_valid)]
        load = Signal()
        m.d.comb += load.eq(~out_valid | ser.flit.ready)

        # The CRC is computed between the flit register and the serializer (off the path of the
        # flit choice); the register's CRC field stays 0.
        build = Signal(layout)
        m.d.comb += ser.flit.payload.crc.eq(crc16_value(out_flit.as_value()[16:], message_bits))

        # Credit return: prefer the VC whose limit changed since it was last sent.
        changed = Array(own_limit[vc] != credit_sent[vc] for vc in range(NUM_VCS))
        credit_vc = Signal()
        m.d.comb += credit_vc.eq(Mux(~changed[credit_turn] & changed[~credit_turn],
                                     ~credit_turn, credit_turn))
        credit_value = Signal(4)
        m.d.comb += credit_value.eq(Array(own_limit)[credit_vc])

        def credit_returned():
            m.d.sync += credit_turn.eq(~credit_vc)
            with m.Switch(credit_vc):
                for vc in range(NUM_VCS):
                    with m.Case(vc):
                        m.d.sync += credit_sent[vc].eq(own_limit[vc])

        # ``credits != 0``, registered: true in a cycle only if the credits at the start of the
        # previous cycle, less the flit admitted then, were not zero. Credit limits only grow
        # while ACTIVE (they drop only in TRAIN, at the retrain), so the flag never overstates.
        credit_ok = [Signal(name=f"credit_ok{vc}") for vc in range(NUM_VCS)]
        offer = Array(txs[vc].valid & credit_ok[vc] for vc in range(NUM_VCS))
        new_vc = Signal()
        m.d.comb += new_vc.eq(Mux(offer[rr_vc], rr_vc, ~rr_vc))
        new_message = Signal(vc_payload_layout(nbytes))
        m.d.comb += new_message.eq(Mux(new_vc, txs[1].payload, txs[0].payload))
        new_payload = Signal(payload_bits)
        m.d.comb += new_payload.eq(payload_bytes_value(new_message.data[i]
                                                       for i in range(nbytes)))
        replaying = replay_left != 0
        room = outstanding < cfg.replay_depth

        admitted = [Signal(name=f"admitted{vc}") for vc in range(NUM_VCS)]  # new flit on the VC
        for vc in range(NUM_VCS):
            m.d.sync += credit_ok[vc].eq((credits[vc][1:] != 0)
                                         | ((credits[vc] == 1) & ~admitted[vc]))
        m.d.comb += send_seq_next.eq(send_seq)
        data_sent = Signal()  # a DATA flit (new or replayed) is loaded this cycle

        def ctrl_flit(nak):
            h = build.header.ctrl
            m.d.comb += [
                h.type.eq(FlitType.CTRL), h.nak.eq(nak), h.ack_seq.eq(rx_ack),
                h.credit_vc.eq(credit_vc), h.credit_limit.eq(credit_value),
                build.payload.eq(payload_bytes_value(idle_pattern(nbytes))),
            ]
            with m.If(load):
                credit_returned()

        def data_flit(vc, seq, payload):
            h = build.header.data
            m.d.comb += [
                h.is_data.eq(1), h.vc.eq(vc), h.seq.eq(seq), h.lc_sel.eq(lc_toggle),
                build.payload.eq(payload),
            ]
            with m.If(lc_toggle):
                m.d.comb += [h.control.credit.vc.eq(credit_vc),
                             h.control.credit.limit.eq(credit_value)]
            with m.Else():
                m.d.comb += h.control.ack_seq.eq(rx_ack[:5])
            with m.If(load):
                m.d.sync += lc_toggle.eq(~lc_toggle)
                with m.If(lc_toggle):
                    credit_returned()
                m.d.comb += [data_sent.eq(1), send_seq_next.eq(send_seq + 1)]

        with m.If(~active):
            h = build.header.train
            m.d.comb += [
                h.type.eq(FlitType.TRAIN), h.seq.eq(train_seq),
                build.payload.eq(Mux(locked,
                                     payload_bytes_value(train_pattern(nbytes, True,
                                                                       own_limit_full)),
                                     payload_bytes_value(train_pattern(nbytes, False,
                                                                       own_limit_full)))),
            ]
            with m.If(load):
                m.d.sync += train_seq.eq(train_seq + 1)
        with m.Elif(nak_pending):
            ctrl_flit(1)
            with m.If(load):
                m.d.sync += nak_pending.eq(0)
                count(st.naks_sent)
        with m.Elif(replaying):
            data_flit(replay_rd.data.vc, send_seq, replay_rd.data.payload)
            with m.If(load):
                count(st.retransmissions)
        with m.Elif(room & (offer[0] | offer[1])):
            data_flit(new_vc, send_seq, new_payload)
            with m.If(load):
                m.d.comb += [
                    replay_wr.en.eq(1),
                    replay_wr.addr.eq(next_seq[:addr_bits]),
                    replay_wr.data.payload.eq(new_payload),
                    replay_wr.data.vc.eq(new_vc),
                ]
                m.d.comb += new_sent.eq(1)
                m.d.sync += [next_seq.eq(next_seq + 1), last_seq.eq(next_seq), rr_vc.eq(~new_vc)]
                for vc in range(NUM_VCS):
                    with m.If(new_vc == vc):
                        m.d.comb += [txs[vc].ready.eq(1), admitted[vc].eq(1)]
                        m.d.sync += peer_used[vc].eq(peer_used[vc] + 1)
                count(st.data_flits)
        with m.Else():
            ctrl_flit(0)

        with m.If(load):
            m.d.sync += [out_flit.eq(build), out_valid.eq(1)]

        # ---- Receive path -------------------------------------------------------------------
        flit = des.flit.payload
        is_data = flit.header.data.is_data
        is_ctrl = ~is_data & (flit.header.ctrl.type == FlitType.CTRL)
        is_train = ~is_data & (flit.header.ctrl.type == FlitType.TRAIN)
        train_status = flit.payload[payload_bits - 8:]
        advert = [flit.payload[payload_bits - 8 * (2 + vc):payload_bits - 8 * (1 + vc)]
                  for vc in range(NUM_VCS)]  # TRAIN payload bytes 1, 2: credit limits
        good = Signal()
        m.d.comb += good.eq(des.good)  # CRC and format, checked with the flit's last beat

        go_back = Signal()  # restart sending at the oldest unacknowledged flit (registered)
        nak_back = Signal()  # ... because of a NAK
        timeout_back = Signal()  # ... because of the replay timeout
        ack_progress = Signal()
        enter_active = Signal()
        retrain = Signal()

        # Acknowledgement and credit fields of a good flit received while active.
        has_ack = Signal()
        offset = Signal(8)
        m.d.comb += [
            has_ack.eq(is_ctrl | (is_data & ~flit.header.data.lc_sel)),
            offset.eq(Mux(is_data,
                          (flit.header.data.control.ack_seq - acked[:5])[:5],
                          flit.header.ctrl.ack_seq - acked)),
        ]
        acked_new = Signal(8)
        acked_new_p1 = Signal(8)
        m.d.comb += [
            acked_new.eq(Mux(is_data,
                             Cat(flit.header.data.control.ack_seq,
                                 acked[5:] + (flit.header.data.control.ack_seq < acked[:5])),
                             flit.header.ctrl.ack_seq)),
            acked_new_p1.eq(acked_new + 1),
        ]
        # The acknowledgement is valid (``offset <= outstanding``) when it lies in the cyclic
        # interval [acked, last_seq] (at most 31 wide), tested with comparisons of registers
        # against the received field, without a subtraction in between. ``remaining`` is
        # ``outstanding - offset`` for a valid acknowledgement.
        ack5 = flit.header.data.control.ack_seq
        ack8 = flit.header.ctrl.ack_seq

        def in_interval(value, low, high):
            return Mux(high < low, (value >= low) | (value <= high),
                       (value >= low) & (value <= high))

        in_window = Signal()
        remaining = Signal(8)
        ack_moves = Signal()    # offset != 0
        ack_is_last = Signal()  # offset == outstanding
        m.d.comb += [
            in_window.eq(Mux(is_data, in_interval(ack5, acked[:5], last_seq[:5]),
                             in_interval(ack8, acked, last_seq))),
            remaining.eq(Mux(is_data, (last_seq[:5] - ack5)[:5], last_seq - ack8)),
            ack_moves.eq(Mux(is_data, ack5 != acked[:5], ack8 != acked)),
            ack_is_last.eq(Mux(is_data, ack5 == last_seq[:5], ack8 == last_seq)),
        ]
        outstanding_admitted = Signal(8)  # outstanding, counting this cycle's new flit
        m.d.comb += outstanding_admitted.eq(outstanding + new_sent)
        with m.If(ack_progress):
            m.d.sync += outstanding.eq(remaining + new_sent)
        with m.Else():
            m.d.sync += outstanding.eq(outstanding_admitted)
        has_credit = Signal()
        credit_in_vc = Signal()
        credit_in = Signal(4)
        m.d.comb += [
            has_credit.eq(is_ctrl | (is_data & flit.header.data.lc_sel)),
            credit_in_vc.eq(Mux(is_data, flit.header.data.control.credit.vc,
                                flit.header.ctrl.credit_vc)),
            credit_in.eq(Mux(is_data, flit.header.data.control.credit.limit,
                             flit.header.ctrl.credit_limit)),
        ]
        # The replay pointer is behind the oldest unacknowledged flit (an acknowledgement
        # overtook it, or a go-back happened in the cycle an acknowledgement arrived): skip to
        # it. Both distances count back from ``next_seq``; a comparison of registers, one cycle
        # after the acknowledgement.
        skip = Signal()
        m.d.comb += skip.eq(replay_left > outstanding)
        distance = Signal(8)
        m.d.comb += distance.eq(flit.header.data.seq - expected)

        fifos = []
        for vc in range(NUM_VCS):
            fifo = SyncFIFOBuffered(width=payload_bits, depth=cfg.rx_credits)
            m.submodules[f"rx_buffer{vc}"] = fifo
            fifos.append(fifo)
            m.d.comb += [
                fifo.w_data.eq(flit.payload),
                rxs[vc].valid.eq(fifo.r_rdy),
                fifo.r_en.eq(rxs[vc].ready),
            ]
            for i in range(nbytes):
                high = payload_bits - 8 * i
                m.d.comb += rxs[vc].payload.data[i].eq(fifo.r_data[high - 8:high])
            with m.If(rxs[vc].valid & rxs[vc].ready):
                m.d.sync += freed[vc].eq(freed[vc] + 1)
            with m.If(fifo.w_en & ~fifo.w_rdy):
                m.d.sync += st.rx_overflow.eq(1)

        def schedule_nak():
            with m.If(~nak_scheduled):
                m.d.sync += [nak_scheduled.eq(1), nak_pending.eq(1)]

        def bad_flit():
            m.d.sync += bad_run.eq(bad_run + 1)
            with m.If(bad_run + 1 >= cfg.retrain_errors):
                m.d.comb += retrain.eq(1)

        # Credits drop to zero in the first TRAIN cycle after a retrain (no flit is admitted in
        # TRAIN), until the far end's advertisement re-initialises them (an advertisement in
        # the same cycle wins).
        retrained = Signal()
        m.d.sync += retrained.eq(retrain)
        with m.If(retrained):
            for vc in range(NUM_VCS):
                m.d.sync += peer_limit[vc].eq(peer_used[vc])

        with m.Switch(state):
            with m.Case(LinkState.RESET):
                m.d.sync += state.eq(LinkState.TRAIN)
            with m.Case(LinkState.TRAIN):
                with m.If(des.flit.valid):
                    with m.If(~good):
                        with m.If(~locked):
                            m.d.comb += des.slip.eq(1)
                            m.d.sync += train_good.eq(0)
                        with m.Else():
                            m.d.sync += bad_run.eq(bad_run + 1)
                            with m.If(bad_run + 1 >= cfg.retrain_errors):
                                m.d.sync += [locked.eq(0), train_good.eq(0), bad_run.eq(0)]
                    with m.Elif(is_train):
                        m.d.sync += bad_run.eq(0)
                        # Credit re-initialisation from the far end's advertisement.
                        for vc in range(NUM_VCS):
                            m.d.sync += peer_limit[vc].eq(advert[vc])
                        with m.If(~locked):
                            m.d.sync += train_good.eq(train_good + 1)
                            with m.If(train_good + 1 >= cfg.train_flits):
                                m.d.sync += locked.eq(1)
                        with m.Elif(train_status == TRAIN_LOCKED):
                            m.d.comb += enter_active.eq(1)
                    with m.Else():
                        m.d.sync += bad_run.eq(0)
                        with m.If(locked):
                            m.d.comb += enter_active.eq(1)
                        with m.Else():
                            m.d.sync += train_good.eq(0)
            with m.Case(LinkState.ACTIVE):
                with m.If(des.flit.valid):
                    with m.If(~good):
                        count(st.flit_errors)
                        schedule_nak()
                        bad_flit()
                    with m.Elif(is_train):
                        m.d.sync += bad_run.eq(0)
                        with m.If(train_status == TRAIN_SEARCHING):
                            m.d.comb += retrain.eq(1)
                    with m.Else():
                        m.d.sync += bad_run.eq(0)
                        with m.If(has_ack & in_window):
                            with m.If(ack_moves):
                                m.d.comb += ack_progress.eq(1)
                                m.d.sync += [acked.eq(acked_new), acked_p1.eq(acked_new_p1)]
                            with m.If(is_ctrl & flit.header.ctrl.nak):
                                count(st.naks_received)
                                with m.If(~ack_is_last):
                                    m.d.comb += nak_back.eq(1)
                                    count(st.replays)
                        with m.If(has_credit):
                            for vc in range(NUM_VCS):
                                with m.If(credit_in_vc == vc):
                                    m.d.sync += peer_limit[vc].eq(
                                        peer_limit[vc] + (credit_in - peer_limit[vc][:4])[:4])
                        with m.If(is_data):
                            with m.If(flit.header.data.seq == expected):
                                for vc in range(NUM_VCS):
                                    with m.If(flit.header.data.vc == vc):
                                        m.d.comb += fifos[vc].w_en.eq(1)
                                m.d.sync += [expected.eq(expected + 1), nak_scheduled.eq(0)]
                            with m.Elif(distance < 128):
                                count(st.seq_gaps)
                                schedule_nak()
                            with m.Else():
                                count(st.duplicates)

        # Replay timeout, restarted (one cycle later, a registered decision) by acknowledgement
        # progress, a NAK or entering ACTIVE.
        timer_restart = Signal()
        m.d.sync += timer_restart.eq(ack_progress | nak_back | enter_active)
        with m.If(~active | (outstanding == 0) | timer_restart):
            m.d.sync += timer.eq(0)
        with m.Elif(timer == cfg.replay_timeout - 1):
            m.d.sync += timer.eq(0)
            m.d.comb += timeout_back.eq(1)
            count(st.timeouts)
            count(st.replays)
        with m.Else():
            m.d.sync += timer.eq(timer + 1)

        with m.If(retrain):
            m.d.sync += [state.eq(LinkState.TRAIN), locked.eq(0), train_good.eq(0),
                         bad_run.eq(0), st.retrains.eq(st.retrains + 1)]
        with m.If(enter_active):
            m.d.sync += [state.eq(LinkState.ACTIVE), bad_run.eq(0), nak_scheduled.eq(0),
                         nak_pending.eq(0)]
        # A NAK, a timeout or entering ACTIVE sends the pointer back to the oldest
        # unacknowledged flit in the next cycle (the decision is registered; the NAK's own
        # acknowledgement has been taken by then).
        m.d.sync += go_back.eq(nak_back | timeout_back | enter_active)
        m.d.comb += replay_left_next.eq(replay_left)
        with m.If(go_back):
            m.d.comb += [send_seq_next.eq(acked_p1),
                         replay_left_next.eq(outstanding_admitted)]
        with m.Elif(skip):
            m.d.comb += [send_seq_next.eq(acked_p1), replay_left_next.eq(outstanding)]
        with m.Elif(data_sent & replaying):
            m.d.comb += replay_left_next.eq(replay_left - 1)
        m.d.sync += replay_left.eq(replay_left_next)

        m.d.comb += replay_rd.addr.eq(send_seq_next[:addr_bits])
        m.d.sync += send_seq.eq(send_seq_next)
        return m
