"""One slice of the distributed L2: set-associative, write-back, write-allocate, non-blocking.

The behaviour is that of the golden model ``verif.models.cache`` (its docstring is the
specification): the slice decides every hit, miss, victim and replacement update in the order
it accepts requests, exactly as the model does; only the data of a miss arrives later.

Storage
-------
``tag_ram`` holds one entry per set: for every way ``{tag, valid, dirty}`` and the set's
replacement state, read synchronously and written back whole (read-modify-write). Its read port
is transparent to its write port, so a request reads the entry its predecessor writes in the
same cycle. ``data_ram`` holds one line per ``(set, way)`` (address ``set * ways + way``),
written with byte enables: a hit writes one word, a fill the whole line. Both are
``lib.memory.Memory`` with synchronous reads and map to block RAM.

Pipeline
--------
* Accept (cycle 0): a request enters from ``req``, or, with priority, a request replayed from
  an MSHR, or one that stage 1 set aside (``retry``). Its set is read from ``tag_ram``.
* Stage 1 (cycle 1): the ways' tags are compared and the request is decided:

  - a hit reads (or writes) its line in ``data_ram`` and writes the set's entry back with the
    replacement state touched (and ``dirty`` set by a write);
  - a miss takes a free MSHR, chooses the way as the model does (lowest invalid way, else the
    policy's victim; the random LFSR steps only then), writes the new tag into the entry at
    once (valid, clean, touched), queues the line read on ``mem_read`` and, for a dirty victim,
    reads the victim into the write-back buffer for ``mem_write``;
  - a READ or WRITE to a line whose fill is outstanding (its MSHR is still active) merges:
    it touches the replacement state now and waits in the MSHR.

* Stage 2 (cycle 2): the word is selected from the line and ``resp`` is valid.

A hit answers 2 cycles after it is accepted and hits flow at one per cycle, also while misses
are outstanding (hit-under-miss). When a fill returns, the line is written and the MSHR's
requests (the miss, then its merges, in acceptance order) are replayed through stage 1, where
they hit; the MSHR is freed after the last one. Requests to a line with an active MSHR wait in
it or behind it, so requests to one line are answered in acceptance order.

Stage 1 sets a request aside (into ``retry``, ahead of any new request) so that replays can
pass when it must wait for an MSHR to finish: no MSHR free, the chosen victim's fill still
outstanding, the MSHR's target slots full, FLUSH_LINE or INVALIDATE_LINE of a line being
filled, and FLUSH_ALL or INVALIDATE_ALL while any MSHR is active. FLUSH_ALL walks every set
writing back every dirty line; INVALIDATE_ALL, and reset, walk every set writing an empty entry
(``sets`` cycles; ``req`` is not ready meanwhile). A FLUSH_LINE or FLUSH_ALL is answered once
its write-backs have been accepted by ``mem_write``.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .config import CacheConfig
from .protocol import (
    CacheOp,
    MemOp,
    core_request_layout,
    core_response_layout,
    counters_layout,
    mem_request_layout,
    mem_response_layout,
)
from .replacement import (
    ReplacementLogic,
    lfsr16_next,
    repl_reset_value,
    repl_state_width,
)

__all__ = ["CacheSlice", "set_entry_layout"]


def set_entry_layout(config):
    """Return the layout of one ``tag_ram`` entry (all ways of a set + replacement state)."""
    way = data.StructLayout({"tag": unsigned(config.tag_bits), "valid": 1, "dirty": 1})
    return data.StructLayout({
        "ways": data.ArrayLayout(way, config.ways),
        "repl": unsigned(repl_state_width(config.policy, config.ways)),
    })


def _first_set(m, name, bits, width):
    """Return ``(any, index)`` of the lowest true element of the list ``bits``."""
    index = Signal(unsigned(width), name=name)
    for position in reversed(range(len(bits))):
        with m.If(bits[position]):
            m.d.comb += index.eq(position)
    return Cat(*bits).any(), index


class CacheSlice(wiring.Component):
    """A set-associative, write-back, write-allocate, non-blocking L2 cache slice.

    Parameters
    ----------
    config : CacheConfig
        Geometry, port widths, MSHRs and replacement policy; defaults to
        ``CacheConfig.fpga()``.

    Attributes
    ----------
    req : In(stream.Signature(core_request_layout))
        Core-side requests.
    resp : Out(stream.Signature(core_response_layout))
        One response per request; requests to one line are answered in acceptance order.
    mem_read : Out(stream.Signature(mem_request_layout))
        Line reads (fills); ``id`` names the MSHR.
    mem_write : Out(stream.Signature(mem_request_layout))
        Line writes (write-backs).
    mem_resp : In(stream.Signature(mem_response_layout))
        Line data for ``mem_read``, matched by ``id``, in any order.
    counters : Out(counters_layout)
        Performance counters: hits, misses, merges, evictions, write-backs.
    """

    def __init__(self, *, config=None):
        if config is None:
            config = CacheConfig.fpga()
        if not isinstance(config, CacheConfig):
            self._MustUse__silence = True  # a rejected component is not "unused"
            raise TypeError(f"config must be a CacheConfig, not {config!r}")
        self._config = config
        mem_req = mem_request_layout(addr_width=config.addr_width, line_bytes=config.line_bytes,
                                     id_width=config.mem_id_width)
        super().__init__({
            "req": In(stream.Signature(core_request_layout(config))),
            "resp": Out(stream.Signature(core_response_layout(config))),
            "mem_read": Out(stream.Signature(mem_req)),
            "mem_write": Out(stream.Signature(mem_req)),
            "mem_resp": In(stream.Signature(mem_response_layout(
                line_bytes=config.line_bytes, id_width=config.mem_id_width))),
            "counters": Out(counters_layout()),
        })

    @property
    def config(self):
        """The slice's configuration."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        ways, sets = cfg.ways, cfg.sets
        n_mshr, n_target = cfg.mshrs, cfg.mshr_targets
        ob, ib, wb = cfg.offset_bits, cfg.index_bits, cfg.word_bits
        entry_layout = set_entry_layout(cfg)
        req_layout = core_request_layout(cfg)

        def index_of(addr):
            return addr[ob:ob + ib] if ib else Const(0, 1)

        def tag_of(addr):
            return addr[ob + ib:]

        def line_addr(tag, index):
            return Cat(Const(0, ob), index if ib else Const(0, 0), tag)

        def data_addr(way, index):
            return Cat(way if ways > 1 else Const(0, 0), index if ib else Const(0, 0))

        # -- storage ---------------------------------------------------------------------------
        m.submodules.tag_ram = tag_ram = Memory(shape=entry_layout, depth=sets, init=[])
        tag_wr = tag_ram.write_port()
        tag_rd = tag_ram.read_port(transparent_for=(tag_wr,))
        m.submodules.data_ram = data_ram = Memory(
            shape=unsigned(8 * cfg.line_bytes), depth=sets * ways, init=[])
        data_wr = data_ram.write_port(granularity=8)
        data_rd = data_ram.read_port()
        m.d.comb += [tag_wr.en.eq(0), data_wr.en.eq(0), data_rd.en.eq(0)]

        # -- counters --------------------------------------------------------------------------
        counter = {name: Signal(32, name=f"count_{name}") for name in
                   ("hits", "misses", "merges", "evictions", "writebacks")}
        for name, value in counter.items():
            m.d.comb += getattr(self.counters, name).eq(value)

        def count(name):
            m.d.sync += counter[name].eq(counter[name] + 1)

        # -- pipeline registers ----------------------------------------------------------------
        s1_valid = Signal()
        s1 = Signal(req_layout)
        s1_replay = Signal()   # replayed from an MSHR after its fill
        s1_first = Signal()    # (replay) the request whose miss allocated the MSHR
        s1_done = Signal()     # a FLUSH_ALL / INVALIDATE_ALL walk has finished
        retry_valid = Signal()
        retry = Signal(req_layout)
        s2_valid = Signal()
        s2_id = Signal(cfg.id_width)
        s2_hit = Signal()
        s2_merged = Signal()
        s2_read = Signal()
        s2_word = Signal(max(1, ob - wb))

        # Stage 1 outcomes (combinational).
        idle = Signal()        # the slice FSM is in IDLE
        complete = Signal()    # the request moves to stage 2 (a response)
        park = Signal()        # the request merges into an MSHR
        allocate = Signal()    # the request misses and takes an MSHR
        blocked = Signal()     # the request waits for an MSHR to finish
        s2_free = Signal()
        m.d.comb += s2_free.eq(~s2_valid | self.resp.ready)

        # -- MSHRs -----------------------------------------------------------------------------
        mshr_valid = Signal(n_mshr)
        mshr_filled = Signal(n_mshr)
        mshr_index = [Signal(max(1, ib), name=f"mshr{i}_index") for i in range(n_mshr)]
        mshr_way = [Signal(cfg.way_bits, name=f"mshr{i}_way") for i in range(n_mshr)]
        mshr_head = [Signal(range(n_target + 1), name=f"mshr{i}_head") for i in range(n_mshr)]
        mshr_tail = [Signal(range(n_target + 1), name=f"mshr{i}_tail") for i in range(n_mshr)]
        mshr_target = [Array(Signal(req_layout, name=f"mshr{i}_target{t}")
                             for t in range(n_target)) for i in range(n_mshr)]

        # Replay: the lowest filled MSHR with requests left.
        replay_ready = [mshr_valid[i] & mshr_filled[i] & (mshr_head[i] != mshr_tail[i])
                        for i in range(n_mshr)]
        replay_any, replay_sel = _first_set(m, "replay_sel", replay_ready, cfg.mem_id_width)
        replay_payload = Signal(req_layout)
        replay_first = Signal()
        for i in range(n_mshr):
            with m.If(replay_sel == i):
                head = mshr_head[i]
                m.d.comb += [replay_payload.eq(mshr_target[i][head]),
                             replay_first.eq(head == 0)]

        # -- stage 1 load ----------------------------------------------------------------------
        s1_free = Signal()
        bounce = Signal()      # set stage 1's request aside so that a replay can pass
        load = Signal()
        inject = Signal()      # a replay enters stage 1
        m.d.comb += [
            s1_free.eq(~s1_valid | complete | park | allocate),
            bounce.eq(s1_valid & blocked & replay_any),
            load.eq(idle & (s1_free | bounce)),
            inject.eq(load & replay_any),
            self.req.ready.eq(load & ~replay_any & ~retry_valid),
        ]
        with m.If(load):
            m.d.sync += s1_done.eq(0)
            with m.If(replay_any):
                m.d.sync += [s1_valid.eq(1), s1.eq(replay_payload), s1_replay.eq(1),
                             s1_first.eq(replay_first)]
            with m.Elif(retry_valid):
                m.d.sync += [s1_valid.eq(1), s1.eq(retry), s1_replay.eq(0), retry_valid.eq(0)]
            with m.Else():
                m.d.sync += [s1_valid.eq(self.req.valid), s1.eq(self.req.payload),
                             s1_replay.eq(0)]
        with m.If(bounce):
            m.d.sync += [retry_valid.eq(1), retry.eq(s1)]

        # Tag RAM read address: the request entering stage 1, else the set being worked on
        # (re-read every cycle, so the entry is always current).
        cur_set = Signal(max(1, ib))
        s1_index = index_of(s1.addr)
        s1_tag = tag_of(s1.addr)
        with m.If(load):
            m.d.comb += tag_rd.addr.eq(Mux(replay_any, index_of(replay_payload.addr),
                                           Mux(retry_valid, index_of(retry.addr),
                                               index_of(self.req.payload.addr))))
        with m.Elif(idle):
            m.d.comb += tag_rd.addr.eq(s1_index)
        with m.Else():
            m.d.comb += tag_rd.addr.eq(cur_set)
        entry = tag_rd.data
        new_entry = Signal(entry_layout)
        m.d.comb += [new_entry.eq(entry), tag_wr.data.eq(new_entry)]

        def write_entry(addr):
            m.d.comb += [tag_wr.en.eq(1), tag_wr.addr.eq(addr)]

        # -- stage 1: tag compare, MSHR match, victim ------------------------------------------
        way_hits = [entry.ways[w].valid & (entry.ways[w].tag == s1_tag) for w in range(ways)]
        hit, hit_way = _first_set(m, "hit_way", way_hits, cfg.way_bits)
        _, free_way = _first_set(m, "free_way", [~entry.ways[w].valid for w in range(ways)],
                                 cfg.way_bits)
        all_valid = Cat(*[entry.ways[w].valid for w in range(ways)]).all()
        any_dirty, dirty_way = _first_set(
            m, "dirty_way", [entry.ways[w].valid & entry.ways[w].dirty for w in range(ways)],
            cfg.way_bits)

        lfsr = Signal(16, init=cfg.seed)
        touch_way = Signal(cfg.way_bits)
        policy_victim = Signal(cfg.way_bits)
        touched = Signal(entry_layout.members["repl"])
        if cfg.policy == "random":
            m.d.comb += [policy_victim.eq(lfsr16_next(lfsr)[:cfg.way_bits] if ways > 1 else 0),
                         touched.eq(entry.repl)]
        else:
            m.submodules.replacement = repl = ReplacementLogic(policy=cfg.policy, ways=ways)
            m.d.comb += [repl.state.eq(entry.repl), repl.way.eq(touch_way),
                         touched.eq(repl.touched), policy_victim.eq(repl.victim)]
        victim = Signal(cfg.way_bits)
        m.d.comb += victim.eq(Mux(all_valid, policy_victim, free_way))

        def mshr_on(way):
            return [mshr_valid[i] & (mshr_index[i] == s1_index) & (mshr_way[i] == way)
                    for i in range(n_mshr)]

        hit_pending, hit_mshr = _first_set(m, "hit_mshr", mshr_on(hit_way), cfg.mem_id_width)
        victim_pending = Cat(*mshr_on(victim)).any()
        mshr_free_any, mshr_free = _first_set(m, "mshr_free", [~mshr_valid[i]
                                                              for i in range(n_mshr)],
                                              cfg.mem_id_width)
        hit_mshr_full = Array(mshr_tail)[hit_mshr] == n_target

        # -- memory side: line read slot and write-back buffer ---------------------------------
        read_valid = Signal()
        read_addr = Signal(cfg.addr_width)
        read_id = Signal(cfg.mem_id_width)
        m.d.comb += [
            self.mem_read.valid.eq(read_valid),
            self.mem_read.payload.op.eq(MemOp.READ),
            self.mem_read.payload.addr.eq(read_addr),
            self.mem_read.payload.id.eq(read_id),
        ]
        with m.If(self.mem_read.ready):
            m.d.sync += read_valid.eq(0)
        read_slot_free = ~read_valid | self.mem_read.ready

        wb_valid = Signal()
        wb_capture = Signal()   # the line being written back appears on data_rd this cycle
        wb_addr = Signal(cfg.addr_width)
        wb_data = Signal(8 * cfg.line_bytes)
        m.d.comb += [
            self.mem_write.valid.eq(wb_valid & ~wb_capture),
            self.mem_write.payload.op.eq(MemOp.WRITE),
            self.mem_write.payload.addr.eq(wb_addr),
            self.mem_write.payload.id.eq(0),
            self.mem_write.payload.data.eq(wb_data),
            self.mem_write.payload.mask.eq(Const(-1, cfg.line_bytes)),
        ]
        with m.If(wb_capture):
            m.d.sync += [wb_data.eq(data_rd.data), wb_capture.eq(0)]
        with m.If(self.mem_write.valid & self.mem_write.ready):
            m.d.sync += wb_valid.eq(0)
            count("writebacks")

        def start_writeback(way, index, tag):
            """Read line ``(index, way)`` into the write-back buffer (needs wb and s2 free)."""
            m.d.comb += [data_rd.en.eq(1), data_rd.addr.eq(data_addr(way, index))]
            m.d.sync += [wb_valid.eq(1), wb_capture.eq(1), wb_addr.eq(line_addr(tag, index))]

        # -- fills -----------------------------------------------------------------------------
        s1_data_write = Signal()
        m.d.comb += self.mem_resp.ready.eq(~s1_data_write)
        fill_id = self.mem_resp.payload.id
        with m.If(self.mem_resp.valid & self.mem_resp.ready):
            for i in range(n_mshr):
                with m.If(fill_id == i):
                    m.d.comb += [data_wr.en.eq(Const(-1, cfg.line_bytes)),
                                 data_wr.addr.eq(data_addr(mshr_way[i], mshr_index[i])),
                                 data_wr.data.eq(self.mem_resp.payload.data)]
                    m.d.sync += mshr_filled[i].eq(1)

        # -- MSHR bookkeeping ------------------------------------------------------------------
        for i in range(n_mshr):
            parks_here = park & (hit_mshr == i)
            injects_here = inject & (replay_sel == i)
            with m.If(parks_here):
                m.d.sync += [mshr_target[i][mshr_tail[i]].eq(s1), mshr_tail[i].eq(mshr_tail[i] + 1)]
            with m.If(injects_here):
                m.d.sync += mshr_head[i].eq(mshr_head[i] + 1)
            # Retire once filled and every request has been replayed.
            with m.If(mshr_valid[i] & mshr_filled[i] & (mshr_head[i] == mshr_tail[i])
                      & ~parks_here):
                m.d.sync += mshr_valid[i].eq(0)
            with m.If(allocate & (mshr_free == i)):
                m.d.sync += [mshr_valid[i].eq(1), mshr_filled[i].eq(0),
                             mshr_index[i].eq(s1_index), mshr_way[i].eq(victim),
                             mshr_head[i].eq(0), mshr_tail[i].eq(1),
                             mshr_target[i][0].eq(s1)]

        # -- stage 2: response -----------------------------------------------------------------
        op = s1.op
        is_rw = (op == CacheOp.READ) | (op == CacheOp.WRITE)
        word = s1.addr[wb:ob] if ob > wb else Const(0, 1)
        line_words = data.ArrayLayout(unsigned(8 * cfg.data_bytes), cfg.words_per_line)
        read_line = data.View(line_words, data_rd.data)
        m.d.comb += [
            self.resp.valid.eq(s2_valid),
            self.resp.payload.id.eq(s2_id),
            self.resp.payload.hit.eq(s2_hit),
            self.resp.payload.merged.eq(s2_merged),
            self.resp.payload.data.eq(Mux(s2_read, read_line[s2_word], 0)),
        ]
        with m.If(complete):
            m.d.sync += [s2_valid.eq(1), s2_id.eq(s1.id),
                         s2_hit.eq(is_rw & ~(s1_replay & s1_first)),
                         s2_merged.eq(s1_replay & ~s1_first),
                         s2_read.eq(op == CacheOp.READ), s2_word.eq(word)]
        with m.Elif(self.resp.ready):
            m.d.sync += s2_valid.eq(0)

        def access_line():
            """Complete a READ or WRITE on the present line ``hit_way`` of set ``s1_index``."""
            m.d.comb += complete.eq(s2_free)
            with m.If(complete):
                m.d.comb += [data_rd.en.eq(1), data_rd.addr.eq(data_addr(hit_way, s1_index))]
                with m.If(op == CacheOp.WRITE):
                    m.d.comb += [
                        s1_data_write.eq(1),
                        new_entry.ways[hit_way].dirty.eq(1),
                        data_wr.en.eq(s1.mask << (word * cfg.data_bytes)),
                        data_wr.addr.eq(data_addr(hit_way, s1_index)),
                        data_wr.data.eq(Cat(*[s1.data] * cfg.words_per_line)),
                    ]
                    write_entry(s1_index)

        # -- the slice FSM ---------------------------------------------------------------------
        with m.FSM(init="SWEEP", name="slice_fsm"):
            with m.State("IDLE"):
                m.d.comb += idle.eq(1)
                with m.If(~s1_valid):
                    pass
                with m.Elif(s1_replay):
                    # The line was installed by the fill: a hit, the policy already touched.
                    access_line()
                with m.Elif(is_rw & hit & hit_pending):
                    with m.If(hit_mshr_full):
                        m.d.comb += blocked.eq(1)
                    with m.Else():
                        m.d.comb += [park.eq(1), touch_way.eq(hit_way),
                                     new_entry.repl.eq(touched)]
                        write_entry(s1_index)
                        count("merges")
                with m.Elif(is_rw & hit):
                    m.d.comb += [touch_way.eq(hit_way)]
                    access_line()
                    with m.If(complete):
                        m.d.comb += new_entry.repl.eq(touched)
                        write_entry(s1_index)
                        count("hits")
                with m.Elif(is_rw):
                    evict_dirty = all_valid & entry.ways[victim].dirty
                    line = line_addr(s1_tag, s1_index)
                    with m.If(victim_pending | ~mshr_free_any):
                        m.d.comb += blocked.eq(1)
                    with m.Elif(read_slot_free & ~(wb_valid & (wb_addr == line))
                                & (~evict_dirty | (~wb_valid & s2_free))):
                        m.d.comb += [allocate.eq(1), touch_way.eq(victim),
                                     new_entry.repl.eq(touched),
                                     new_entry.ways[victim].tag.eq(s1_tag),
                                     new_entry.ways[victim].valid.eq(1),
                                     new_entry.ways[victim].dirty.eq(0)]
                        write_entry(s1_index)
                        m.d.sync += [read_valid.eq(1), read_addr.eq(line),
                                     read_id.eq(mshr_free)]
                        count("misses")
                        with m.If(all_valid):
                            count("evictions")
                            if cfg.policy == "random":
                                m.d.sync += lfsr.eq(lfsr16_next(lfsr))
                        with m.If(evict_dirty):
                            start_writeback(victim, s1_index, entry.ways[victim].tag)
                with m.Elif((op == CacheOp.FLUSH_LINE) | (op == CacheOp.INVALIDATE_LINE)):
                    with m.If(hit & hit_pending):
                        m.d.comb += blocked.eq(1)
                    with m.Elif(op == CacheOp.INVALIDATE_LINE):
                        m.d.comb += complete.eq(s2_free)
                        with m.If(complete & hit):
                            m.d.comb += [new_entry.ways[hit_way].valid.eq(0),
                                         new_entry.ways[hit_way].dirty.eq(0)]
                            write_entry(s1_index)
                    with m.Elif(hit & entry.ways[hit_way].dirty):
                        # Hand the line to the write-back buffer, mark it clean; stay.
                        with m.If(~wb_valid & s2_free):
                            start_writeback(hit_way, s1_index, s1_tag)
                            m.d.comb += new_entry.ways[hit_way].dirty.eq(0)
                            write_entry(s1_index)
                    with m.Else():
                        m.d.comb += complete.eq(s2_free & ~wb_valid)
                with m.Elif((op == CacheOp.FLUSH_ALL) | (op == CacheOp.INVALIDATE_ALL)):
                    with m.If(s1_done):
                        m.d.comb += complete.eq(s2_free & ~wb_valid)
                    with m.Elif(mshr_valid.any()):
                        m.d.comb += blocked.eq(1)
                    with m.Elif(op == CacheOp.FLUSH_ALL):
                        m.d.sync += cur_set.eq(0)
                        m.next = "FLUSH_ALL_READ"
                    with m.Else():
                        m.d.sync += cur_set.eq(0)
                        m.next = "SWEEP"
                with m.Else():
                    m.d.comb += complete.eq(s2_free)   # unused operation codes

            with m.State("FLUSH_ALL_READ"):
                m.next = "FLUSH_ALL_CHECK"

            with m.State("FLUSH_ALL_CHECK"):
                with m.If(any_dirty):
                    with m.If(~wb_valid & s2_free):
                        start_writeback(dirty_way, cur_set, entry.ways[dirty_way].tag)
                        m.d.comb += new_entry.ways[dirty_way].dirty.eq(0)
                        write_entry(cur_set)
                with m.Elif(cur_set == sets - 1):
                    m.d.sync += s1_done.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += cur_set.eq(cur_set + 1)
                    m.next = "FLUSH_ALL_READ"

            with m.State("SWEEP"):
                # Reset and INVALIDATE_ALL: write an empty entry to every set.
                m.d.comb += [new_entry.eq(0),
                             new_entry.repl.eq(repl_reset_value(cfg.policy, ways))]
                write_entry(cur_set)
                with m.If(cur_set == sets - 1):
                    m.d.sync += s1_done.eq(s1_valid)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += cur_set.eq(cur_set + 1)
        return m
