"""One slice of the distributed L2: set-associative, write-back, write-allocate, non-blocking.

The behaviour is that of the golden model ``verif.models.cache`` (its docstring is the
specification): the slice decides every hit, miss, victim and replacement update in the order
it accepts requests, exactly as the model does; only the data of a miss arrives later.

Storage
-------
``tag_ram`` holds one entry per set: for every way ``{tag, valid, dirty}`` and the set's
replacement state, read synchronously (not transparent) and written back whole. It asks for
distributed RAM (``ram_style = "distributed"``): on the ECP5 its registered read output is then a
flip-flop, not a block RAM output with a 5.8 ns clock-to-output delay. The data array is
``banks`` memories ``data_ram{b}`` split by set (set ``s`` in bank ``s % banks``), one line per
``(set, way)``, written with byte enables: a hit writes one word, a fill the whole line; they
map to block RAM. All are ``lib.memory.Memory`` with synchronous reads.

Pipeline
--------
Decisions are taken from registers through a few levels of logic; the high-fanout selects (the
tag RAM address, the stage 1 -> 2 move, the replay choice) come from registers or one level
after them.

* Accept (cycle 0): a request enters stage 1 from ``req``; its set is read from ``tag_ram``.
* Stage 1 (cycle 1): every way's tag is compared with the request's; the hit vector (with the
  forwarding below), the set's entry, the MSHRs holding a line of the same set and the ways they
  fill are registered.
* Stage 2 (cycle 2): the request is decided from registers:

  - a hit reads (or writes) its line in the data RAM and writes the set's entry back with the
    replacement state touched (and ``dirty`` set by a write);
  - a miss takes a free MSHR, chooses the way as the model does (lowest invalid way, else the
    policy's victim; the random LFSR steps only then), writes the new tag into the entry at
    once (valid, touched; dirty for a WRITE), queues the line read on ``mem_read`` and, for a
    dirty victim, reads the victim into the write-back buffer for ``mem_write``;
  - a READ or WRITE to a line whose fill is outstanding (its MSHR is still active) merges:
    it touches the replacement state (and marks the line dirty for a WRITE) and waits in the
    MSHR;
  - a request that must wait for an MSHR to finish stays in stage 2 (no MSHR free, the chosen
    victim's fill outstanding, the MSHR's target slots full, FLUSH_LINE or INVALIDATE_LINE of a
    line being filled, FLUSH_ALL or INVALIDATE_ALL while any MSHR is active).

* Stage 3 (cycle 3): the word is selected from the data RAM's output and ``resp`` is valid.

The tag RAM takes an entry write one cycle after stage 2 decides it, from registers; its read
side bypasses that registered write, so a read sees every write decided before its cycle.
Read-after-write on the tag RAM: a request entering stage 2 in the cycle its predecessor writes
the same set takes the written entry instead of the RAM's (forwarding; a tag allocated by a
request that has just left replaces that way's compare). A request accepted in the cycle a
same-set tag change is decided, or held in stage 1 while one is, re-reads its set once (one
bubble).

A hit answers 3 cycles after it is accepted and hits flow at one per cycle, also while misses are
outstanding (hit-under-miss). When a fill returns, the line is written and the MSHR's requests
(the miss, then its merges, in acceptance order) are replayed straight to the data RAM and
stage 3, ahead of stage 2 (they need no tag lookup: the line's tag, replacement state and dirty
bit were written when they were decided); the MSHR is freed after the last one. Requests to a
line with an active MSHR wait in it or in stage 2, so requests to one line are answered in
acceptance order. FLUSH_ALL walks every set (3 cycles per set) writing back every dirty line;
INVALIDATE_ALL, and reset, walk every set writing an empty entry (``sets`` cycles; ``req`` is
not ready meanwhile). A FLUSH_LINE or FLUSH_ALL is answered once its write-backs have been
accepted by ``mem_write``.
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


def _or_encode(bits, width):
    """Return the index of the one true element of the one-hot (or zero) list ``bits``."""
    index = Const(0, width)
    for position, bit in enumerate(bits):
        index = index | Mux(bit, position, 0)
    return index


def _or_select(picks, values):
    """Return the element of ``values`` whose ``picks`` bit is set (one-hot, or zero)."""
    result = Const(0, 1)
    for pick, value in zip(picks, values, strict=True):
        result = result | Mux(pick, value, 0)
    return result


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
        Geometry, port widths, MSHRs, banks and replacement policy; defaults to
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
        Line data for ``mem_read``, matched by ``id``, in any order; always ready.
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
        ways, sets, banks = cfg.ways, cfg.sets, cfg.banks
        n_mshr, n_target = cfg.mshrs, cfg.mshr_targets
        ob, ib, wb, bb = cfg.offset_bits, cfg.index_bits, cfg.word_bits, cfg.bank_bits
        entry_layout = set_entry_layout(cfg)
        req_layout = core_request_layout(cfg)

        def index_of(addr):
            return addr[ob:ob + ib] if ib else Const(0, 1)

        def tag_of(addr):
            return addr[ob + ib:]

        def word_of(addr):
            return addr[wb:ob] if ob > wb else Const(0, 1)

        def line_addr(tag, index):
            return Cat(Const(0, ob), index if ib else Const(0, 0), tag)

        def bank_of(index):
            return index[:bb] if bb else Const(0, 1)

        def data_addr(way, index):
            """Address of line ``(index, way)`` inside its bank."""
            return Cat(way if ways > 1 else Const(0, 0), index[bb:] if ib > bb else Const(0, 0))

        # -- storage ---------------------------------------------------------------------------
        m.submodules.tag_ram = tag_ram = Memory(shape=entry_layout, depth=sets, init=[],
                                                attrs={"ram_style": "distributed"})
        tag_wr = tag_ram.write_port()
        tag_rd = tag_ram.read_port()
        m.d.comb += tag_rd.en.eq(0)
        bank_depth = sets * ways // banks
        data_wr, data_rd = [], []
        for b in range(banks):
            name = "data_ram" if banks == 1 else f"data_ram{b}"
            m.submodules[name] = ram = Memory(shape=unsigned(8 * cfg.line_bytes),
                                              depth=bank_depth, init=[])
            data_wr.append(ram.write_port(granularity=8))
            data_rd.append(ram.read_port())
            m.d.comb += data_wr[b].en.eq(0)

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
        s1_stale = Signal()    # the tag RAM output is not s1's set as it is now: re-read it
        s2_valid = Signal()
        s2 = Signal(req_layout)
        s2_entry = Signal(entry_layout)
        s2_way_hit = Signal(ways)   # the ways holding s2's line (at most one)
        s2_pending = Signal(ways)   # the ways of s2's set an active MSHR is filling
        s2_match = Signal(n_mshr)   # active MSHRs holding a line of s2's set
        s2_done = Signal()     # a FLUSH_ALL / INVALIDATE_ALL walk has finished
        wb_valid = Signal()    # the write-back buffer holds a line for mem_write
        s3_valid = Signal()
        s3_id = Signal(cfg.id_width)
        s3_hit = Signal()
        s3_merged = Signal()
        s3_read = Signal()
        s3_word = Signal(max(1, ob - wb))
        s3_bank = Signal(max(1, bb))

        s1_index, s1_tag = index_of(s1.addr), tag_of(s1.addr)
        s2_index, s2_tag = index_of(s2.addr), tag_of(s2.addr)
        op = s2.op
        is_rw = (op == CacheOp.READ) | (op == CacheOp.WRITE)
        is_line_op = (op == CacheOp.FLUSH_LINE) | (op == CacheOp.INVALIDATE_LINE)
        s2_all = (op == CacheOp.FLUSH_ALL) | (op == CacheOp.INVALIDATE_ALL)

        idle = Signal()        # the slice FSM is in IDLE
        walking = Signal(init=1)   # the slice FSM walks the sets (not IDLE); from reset on
        m.d.comb += idle.eq(~walking)
        tag_write = Signal()   # stage 2 or a walk writes its set's entry (tag_wr next cycle)
        complete = Signal()    # s2's request moves to stage 3 (a response)
        park = Signal()        # s2's request merges into an MSHR
        allocate = Signal()    # s2's request misses and takes an MSHR
        s2_leave = Signal()
        m.d.comb += s2_leave.eq(complete | park | allocate)

        s3_free = Signal()
        m.d.comb += s3_free.eq(~s3_valid | self.resp.ready)

        # -- MSHRs -----------------------------------------------------------------------------
        mshr_valid = Signal(n_mshr)
        mshr_filled = Signal(n_mshr)
        mshr_index = [Signal(max(1, ib), name=f"mshr{i}_index") for i in range(n_mshr)]
        mshr_way = [Signal(cfg.way_bits, name=f"mshr{i}_way") for i in range(n_mshr)]
        mshr_head = [Signal(range(n_target + 1), name=f"mshr{i}_head") for i in range(n_mshr)]
        mshr_tail = [Signal(range(n_target + 1), name=f"mshr{i}_tail") for i in range(n_mshr)]
        mshr_target = [Array(Signal(req_layout, name=f"mshr{i}_target{t}")
                             for t in range(n_target)) for i in range(n_mshr)]
        # A request stored into an MSHR (miss or merge) is written into its target slot one
        # cycle later from ``store_payload`` (a copy of s2 taken every cycle), so that the wide
        # target registers are enabled by registered signals; the slot is not replayed before.
        store_valid = Signal()
        store_mshr = Signal(cfg.mem_id_width)
        store_slot = Signal(range(n_target + 1))
        store_payload = Signal(req_layout)
        m.d.sync += [store_payload.eq(s2), store_valid.eq(park | allocate)]

        # Replay: the lowest filled MSHR with a stored request left is copied into the replay
        # register ``rp`` (its head advances then), which issues to the data RAM and stage 3.
        # ``replay_ready`` (registered, computed from this cycle's next state): the MSHR is
        # filled and its head slot holds a request that was written into it in an earlier
        # cycle (below the previous cycle's tail).
        replay_ready_reg = Signal(n_mshr)
        replay_ready = [replay_ready_reg[i] for i in range(n_mshr)]
        # One-hot priority choice; each MSHR's head slot is selected in parallel with it.
        replay_pick = [replay_ready[i] & ~Cat(*replay_ready[:i]).any() if i else replay_ready[0]
                       for i in range(n_mshr)]
        replay_any = Cat(*replay_ready).any()
        replay_sel = Signal(cfg.mem_id_width)
        m.d.comb += replay_sel.eq(_or_encode(replay_pick, cfg.mem_id_width))
        replay_payload = Signal(req_layout)
        replay_first = Signal()
        replay_index = Signal(max(1, ib))
        replay_way = Signal(cfg.way_bits)
        m.d.comb += [
            replay_payload.eq(_or_select(replay_pick, [mshr_target[i][mshr_head[i]]
                                                       for i in range(n_mshr)])),
            replay_first.eq(_or_select(replay_pick, [mshr_head[i] == 0
                                                     for i in range(n_mshr)])),
            replay_index.eq(_or_select(replay_pick, mshr_index)),
            replay_way.eq(_or_select(replay_pick, mshr_way)),
        ]
        rp_valid = Signal()
        rp = Signal(req_layout)
        rp_first = Signal()
        rp_index = Signal(max(1, ib))
        rp_way = Signal(cfg.way_bits)
        rp_mshr = Signal(cfg.mem_id_width)

        # -- fills: always accepted; a core write to the same bank waits -----------------------
        fill = self.mem_resp.valid
        fill_id = self.mem_resp.payload.id
        fill_index = Array(mshr_index)[fill_id]
        fill_way = Array(mshr_way)[fill_id]
        m.d.comb += self.mem_resp.ready.eq(1)

        def fill_blocks(index):
            """Return whether a fill this cycle occupies the write port of ``index``'s bank."""
            if banks == 1:
                return fill
            return fill & (bank_of(fill_index) == bank_of(index))

        # -- replay issue ----------------------------------------------------------------------
        replay_write = rp.op == CacheOp.WRITE
        replay_go = Signal()
        m.d.comb += replay_go.eq(rp_valid & s3_free & ~(replay_write & fill_blocks(rp_index)))
        rp_load = replay_any & (~rp_valid | replay_go)
        with m.If(rp_load):
            m.d.sync += [rp_valid.eq(1), rp.eq(replay_payload), rp_first.eq(replay_first),
                         rp_index.eq(replay_index), rp_way.eq(replay_way),
                         rp_mshr.eq(replay_sel)]
        with m.Elif(replay_go):
            m.d.sync += rp_valid.eq(0)
        core_port = Signal()   # s2 may use the data read port and stage 3 this cycle
        m.d.comb += core_port.eq(s3_free & ~replay_go)

        # -- stage 1 load and the tag RAM read port --------------------------------------------
        # s1 moves on when stage 2 is empty or its request completes as a plain hit (a short
        # path); after a merge, miss or maintenance operation stage 2 stays empty one cycle.
        s1_advance = Signal()
        load = Signal()
        hit_complete = Signal()
        m.d.comb += [
            s1_advance.eq(s1_valid & ~s1_stale & idle & (~s2_valid | hit_complete)),
            load.eq(idle & (~s1_valid | s1_advance)),
            self.req.ready.eq(load),
        ]
        # ``cur_set`` is the walk's set during a walk and s1's set otherwise, so the tag RAM
        # reads one of two addresses, chosen by two registers (``walking``, ``s1_stale``).
        cur_set = Signal(max(1, ib))
        req_index = index_of(self.req.payload.addr)
        reread = walking | s1_stale
        m.d.comb += [tag_rd.addr.eq(Mux(reread, cur_set, req_index)),
                     tag_rd.en.eq(reread | load)]
        # s1 reads its set when it is accepted (or re-reads it when stale); the RAM is not
        # transparent, so a write decided in that cycle is missed. Such writes are covered by
        # forwarding: from stage 2 when the request there is of the same set (stage 2's entry
        # is always its set's latest, and its tags change only as it leaves), else from
        # ``lw_entry``, a copy of the last write taken every cycle, written by a request that
        # left stage 2, when s1 moves on in the next cycle. Otherwise s1 becomes stale and
        # re-reads its set: a set walk, a tag change (allocation, invalidation) carried by a
        # same-set request ahead (the tag compare would miss it), or an unused ``lw_entry``.
        tag_change = allocate | (op == CacheOp.INVALIDATE_LINE)
        s1_lw = Signal()       # s1's entry is in lw_entry
        lw_entry = Signal(entry_layout)
        lw_alloc = Signal()
        lw_way = Signal(cfg.way_bits)
        lw_tag = Signal(cfg.tag_bits)
        s2_carries = s2_valid & ~s2_all   # stage 2's entry is its set's latest
        write_hit = tag_write & (s2_index == req_index)
        ahead_same = s1_valid & (s1_index == req_index)
        with m.If(load):
            m.d.sync += [s1_valid.eq(self.req.valid), s1.eq(self.req.payload),
                         cur_set.eq(req_index),
                         s1_stale.eq(self.req.valid & write_hit & ahead_same & tag_change),
                         s1_lw.eq(s2_carries & (s2_index == req_index) & ~ahead_same
                                  & s2_leave)]
        with m.Elif(s1_valid):
            with m.If(~idle):
                m.d.sync += [s1_stale.eq(1), s1_lw.eq(0)]
            with m.Elif(s2_carries & (s2_index == s1_index) & s2_leave):
                m.d.sync += [s1_stale.eq(0), s1_lw.eq(1)]
            with m.Elif(s1_lw):
                m.d.sync += [s1_stale.eq(1), s1_lw.eq(0)]
            with m.Else():
                m.d.sync += s1_stale.eq(0)

        # -- stage 1: tag compare --------------------------------------------------------------
        # ``entry`` is the set's entry as of the read: the RAM's, or the registered write that
        # was committed in the read cycle (tag_wr lags the decision by one cycle).
        entry = Signal(entry_layout)
        tag_bypass = Signal()
        tag_bypass_entry = Signal(entry_layout)
        with m.If(tag_rd.en):
            m.d.sync += [tag_bypass.eq(tag_wr.en & (tag_wr.addr == tag_rd.addr)),
                         tag_bypass_entry.eq(tag_wr.data)]
        m.d.comb += entry.eq(Mux(tag_bypass, tag_bypass_entry, tag_rd.data))
        tag_eq = [entry.ways[w].tag == s1_tag for w in range(ways)]

        # -- stage 2: decision inputs ----------------------------------------------------------
        # The hit vector and the pending ways are registered: while a request waits in stage 2,
        # only its own decisions change its set's tags, and it leaves when they do.
        way_hits = [s2_way_hit[w] for w in range(ways)]
        # At most one way hits (the tags of a set's valid ways differ): encode by OR, not by
        # priority, so that the hit way is one level after the hit vector.
        hit = Cat(*way_hits).any()
        hit_way = Signal(cfg.way_bits)
        m.d.comb += hit_way.eq(_or_encode(way_hits, cfg.way_bits))
        _, free_way = _first_set(m, "free_way", [~s2_entry.ways[w].valid for w in range(ways)],
                                 cfg.way_bits)
        all_valid = Cat(*[s2_entry.ways[w].valid for w in range(ways)]).all()

        lfsr = Signal(16, init=cfg.seed)
        touch_way = Signal(cfg.way_bits)
        policy_victim = Signal(cfg.way_bits)
        touched = Signal(entry_layout.members["repl"])
        if cfg.policy == "random":
            m.d.comb += [policy_victim.eq(lfsr16_next(lfsr)[:cfg.way_bits] if ways > 1 else 0),
                         touched.eq(s2_entry.repl)]
        else:
            m.submodules.replacement = repl = ReplacementLogic(policy=cfg.policy, ways=ways)
            m.d.comb += [repl.state.eq(s2_entry.repl), repl.way.eq(touch_way),
                         touched.eq(repl.touched), policy_victim.eq(repl.victim)]
        victim = Signal(cfg.way_bits)
        m.d.comb += victim.eq(Mux(all_valid, policy_victim, free_way))

        # Per way: an active MSHR of s2's set is filling that way and its target slots are full.
        way_full = [Signal(name=f"way{w}_full") for w in range(ways)]
        for w in range(ways):
            m.d.comb += way_full[w].eq(Cat(*[s2_match[i] & (mshr_way[i] == w)
                                             & (mshr_tail[i] == n_target)
                                             for i in range(n_mshr)]).any())
        hit_pending = (s2_way_hit & s2_pending).any()
        hit_dirty = Cat(*[s2_way_hit[w] & s2_entry.ways[w].dirty for w in range(ways)]).any()
        plain_hit = (s2_way_hit & ~s2_pending).any()
        # s2's plain hit completes (stage 3 and the data port are free, a write's bank is not
        # being filled): the condition stage 1 moves on with, kept short.
        m.d.comb += hit_complete.eq(s2_valid & idle & is_rw & plain_hit & core_port
                                    & ~((op == CacheOp.WRITE) & fill_blocks(s2_index)))
        hit_full = Cat(*[way_hits[w] & way_full[w] for w in range(ways)]).any()
        hit_mshr_bits = [s2_match[i] & (mshr_way[i] == hit_way) for i in range(n_mshr)]
        _, hit_mshr = _first_set(m, "hit_mshr", hit_mshr_bits, cfg.mem_id_width)
        victim_pending = s2_pending.bit_select(victim, 1)
        mshr_free_any, mshr_free = _first_set(m, "mshr_free", [~mshr_valid[i]
                                                              for i in range(n_mshr)],
                                              cfg.mem_id_width)

        # A miss is decided from registered conditions, in its second cycle in stage 2 at the
        # earliest: they only change in the safe direction meanwhile (only stage 2 allocates
        # MSHRs and starts write-backs).
        evict_dirty = Signal()
        m.d.comb += evict_dirty.eq(all_valid & s2_entry.ways[victim].dirty)
        s2_miss_ok = Signal()      # registered: victim not being filled, an MSHR free, wb free
        s2_evict_dirty = Signal()  # registered: the victim is dirty
        s2_victim = Signal(cfg.way_bits)   # registered: the victim
        m.d.sync += [s2_miss_ok.eq(~victim_pending & mshr_free_any & ~wb_valid),
                     s2_evict_dirty.eq(evict_dirty), s2_victim.eq(victim)]

        # -- tag RAM write port ----------------------------------------------------------------
        # Stage 2 (or a walk) decides an entry write in one cycle, the RAM takes it in the next
        # from registers (``tag_wr``); the read side bypasses it (``entry`` above), so a read
        # sees every write decided before the read cycle, as with an unregistered write.
        s2_new_entry = Signal(entry_layout)
        walk_new_entry = Signal(entry_layout)
        m.d.comb += s2_new_entry.eq(s2_entry)
        m.d.sync += [tag_wr.en.eq(tag_write), tag_wr.addr.eq(Mux(idle, s2_index, cur_set)),
                     tag_wr.data.eq(Mux(idle, s2_new_entry, walk_new_entry))]

        def write_entry(index):
            """Write the set's new entry (``index`` is ``s2_index`` in IDLE, else ``cur_set``)."""
            m.d.comb += tag_write.eq(1)

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

        wb_capture = Signal()   # the line being written back appears on the data RAM output
        wb_addr = Signal(cfg.addr_width)
        wb_bank = Signal(max(1, bb))
        wb_data = Signal(8 * cfg.line_bytes)
        m.d.comb += [
            self.mem_write.valid.eq(wb_valid & ~wb_capture),
            self.mem_write.payload.op.eq(MemOp.WRITE),
            self.mem_write.payload.addr.eq(wb_addr),
            self.mem_write.payload.id.eq(0),
            self.mem_write.payload.data.eq(wb_data),
            self.mem_write.payload.mask.eq(Const(-1, cfg.line_bytes)),
        ]
        rd_data = Array(port.data for port in data_rd)
        with m.If(wb_capture):
            m.d.sync += [wb_data.eq(rd_data[wb_bank] if banks > 1 else data_rd[0].data),
                         wb_capture.eq(0)]
        with m.If(self.mem_write.valid & self.mem_write.ready):
            m.d.sync += wb_valid.eq(0)
            count("writebacks")

        # -- data RAM ports --------------------------------------------------------------------
        # The read port reads whenever stage 3 can take new data (it holds s3's line otherwise);
        # the address is the replay's line, the walk's dirty line, or s2's hit or victim line.
        rd_index = Signal(max(1, ib))
        rd_way = Signal(cfg.way_bits)
        walk_way = Signal(cfg.way_bits)
        with m.If(replay_go):
            m.d.comb += [rd_way.eq(rp_way), rd_index.eq(rp_index)]
        with m.Elif(idle):
            m.d.comb += [rd_way.eq(Mux(hit, hit_way, s2_victim)), rd_index.eq(s2_index)]
        with m.Else():
            m.d.comb += [rd_way.eq(walk_way), rd_index.eq(cur_set)]
        for port in data_rd:
            m.d.comb += [port.en.eq(s3_free), port.addr.eq(data_addr(rd_way, rd_index))]
        # The core write is the replay's (when it issues) or s2's write hit; the address and
        # data multiplexers depend on ``replay_go`` only, the hit decides just the enables.
        core_write = Signal()
        s2_write_word = Signal()   # s2's write hit writes its word this cycle
        core_index = Signal(max(1, ib))
        core_way = Signal(cfg.way_bits)
        core_mask = Signal(cfg.data_bytes)
        core_word = Signal(max(1, ob - wb))
        core_data = Signal(8 * cfg.data_bytes)
        m.d.comb += [
            core_write.eq(Mux(replay_go, replay_write, s2_write_word)),
            core_index.eq(Mux(replay_go, rp_index, s2_index)),
            core_way.eq(Mux(replay_go, rp_way, hit_way)),
            core_mask.eq(Mux(replay_go, rp.mask, s2.mask)),
            core_word.eq(Mux(replay_go, word_of(rp.addr), word_of(s2.addr))),
            core_data.eq(Mux(replay_go, rp.data, s2.data)),
        ]
        for b, port in enumerate(data_wr):
            fill_here = fill if banks == 1 else fill & (bank_of(fill_index) == b)
            core_here = core_write if banks == 1 else core_write & (bank_of(core_index) == b)
            m.d.comb += [
                port.addr.eq(Mux(fill_here, data_addr(fill_way, fill_index),
                                 data_addr(core_way, core_index))),
                port.data.eq(Mux(fill_here, self.mem_resp.payload.data,
                                 Cat(*[core_data] * cfg.words_per_line))),
            ]
            with m.If(fill_here):
                m.d.comb += port.en.eq(Const(-1, cfg.line_bytes))
            with m.Elif(core_here):
                m.d.comb += port.en.eq(core_mask << (core_word * cfg.data_bytes))
        with m.If(fill):
            for i in range(n_mshr):
                with m.If(fill_id == i):
                    m.d.sync += mshr_filled[i].eq(1)

        def start_writeback(index, tag):
            """Take the line the read port reads into the write-back buffer (``core_port``)."""
            m.d.sync += [wb_valid.eq(1), wb_capture.eq(1), wb_addr.eq(line_addr(tag, index)),
                         wb_bank.eq(bank_of(index))]

        # -- MSHR bookkeeping ------------------------------------------------------------------
        retire = Signal(n_mshr)
        retire_held = Signal(n_mshr)   # retire, in a cycle no request parks
        for i in range(n_mshr):
            parks_here = park & (hit_mshr == i)
            with m.If(parks_here):
                m.d.sync += [mshr_tail[i].eq(mshr_tail[i] + 1), store_mshr.eq(i),
                             store_slot.eq(mshr_tail[i])]
            with m.If(rp_load & replay_pick[i]):
                m.d.sync += mshr_head[i].eq(mshr_head[i] + 1)
            # Retire once filled and every request has been replayed.
            m.d.comb += [retire_held[i].eq(mshr_valid[i] & mshr_filled[i]
                                           & (mshr_head[i] == mshr_tail[i])
                                           & ~(rp_valid & (rp_mshr == i))),
                         retire[i].eq(retire_held[i] & ~parks_here)]
            with m.If(retire[i]):
                m.d.sync += mshr_valid[i].eq(0)
            with m.If(allocate & (mshr_free == i)):
                m.d.sync += [mshr_valid[i].eq(1), mshr_filled[i].eq(0),
                             mshr_index[i].eq(s2_index), mshr_way[i].eq(s2_victim),
                             mshr_head[i].eq(0), mshr_tail[i].eq(1),
                             store_mshr.eq(i), store_slot.eq(0)]
            # Next cycle's replay_ready: valid, filled (by then), and the head (after this
            # cycle's replay load) below this cycle's tail. An allocated MSHR is not filled.
            head_next = mshr_head[i] + (rp_load & replay_pick[i])
            m.d.sync += replay_ready_reg[i].eq(
                mshr_valid[i] & ~retire_held[i] & ~(allocate & (mshr_free == i))
                & (mshr_filled[i] | (fill & (fill_id == i)))
                & (head_next != mshr_tail[i]))
            for t in range(n_target):
                with m.If(store_valid & (store_mshr == i) & (store_slot == t)):
                    m.d.sync += mshr_target[i][t].eq(store_payload)

        # -- stage 1 -> stage 2 ----------------------------------------------------------------
        same_set = s2_valid & (s2_index == s1_index)
        forward = same_set & ~s2_all
        m.d.sync += [lw_entry.eq(s2_new_entry), lw_alloc.eq(allocate), lw_way.eq(s2_victim),
                     lw_tag.eq(s2_tag)]
        # The entry s1 takes into stage 2: stage 2's updated one (same set), the last write
        # (``lw_entry``) or the RAM's. s1 moves on only past an empty stage 2 or a plain hit,
        # which changes no tag: so only a tag allocated by a request that has left, in
        # ``lw_entry``, is newer than the RAM compare; it is compared separately (``fix``).
        # For the same reason no MSHR is allocated or parked into in a cycle s1 moves on, nor
        # in a cycle s2 stays: the MSHRs' next state needs no term for them (``retire_held``).
        next_entry = Signal(entry_layout)
        fix = Signal(ways)
        m.d.comb += [next_entry.eq(Mux(forward, s2_new_entry, Mux(s1_lw, lw_entry, entry))),
                     fix.eq(Mux(~forward & s1_lw & lw_alloc, Const(1, ways) << lw_way, 0))]
        fix_eq = lw_tag == s1_tag
        next_match = Signal(n_mshr)
        for i in range(n_mshr):
            m.d.comb += next_match[i].eq(mshr_valid[i] & ~retire_held[i]
                                         & (mshr_index[i] == s1_index))
        held_match = s2_match & ~retire_held
        # s2_entry is rewritten every cycle (no enable): after s2 leaves it is unused.
        m.d.sync += s2_entry.eq(Mux(s1_advance, next_entry, s2_new_entry))
        with m.If(s1_advance):
            m.d.sync += [s2_valid.eq(1), s2.eq(s1), s2_done.eq(0), s2_miss_ok.eq(0),
                         s2_match.eq(next_match)]
            for w in range(ways):
                m.d.sync += [
                    s2_way_hit[w].eq(next_entry.ways[w].valid & Mux(fix[w], fix_eq, tag_eq[w])),
                    s2_pending[w].eq(Cat(*[next_match[i] & (mshr_way[i] == w)
                                           for i in range(n_mshr)]).any()),
                ]
        with m.Else():
            with m.If(s2_leave):
                m.d.sync += s2_valid.eq(0)
            m.d.sync += s2_match.eq(held_match)
            for w in range(ways):
                m.d.sync += s2_pending[w].eq(Cat(*[held_match[i] & (mshr_way[i] == w)
                                                   for i in range(n_mshr)]).any())

        # -- stage 3: response -----------------------------------------------------------------
        if banks > 1:
            read_line_bits = rd_data[s3_bank]
        else:
            read_line_bits = data_rd[0].data
        line_words = data.ArrayLayout(unsigned(8 * cfg.data_bytes), cfg.words_per_line)
        read_line = data.View(line_words, read_line_bits)
        m.d.comb += [
            self.resp.valid.eq(s3_valid),
            self.resp.payload.id.eq(s3_id),
            self.resp.payload.hit.eq(s3_hit),
            self.resp.payload.merged.eq(s3_merged),
            self.resp.payload.data.eq(Mux(s3_read, read_line[s3_word], 0)),
        ]
        with m.If(replay_go):
            m.d.sync += [s3_valid.eq(1), s3_id.eq(rp.id),
                         s3_hit.eq(~rp_first), s3_merged.eq(~rp_first),
                         s3_read.eq(rp.op == CacheOp.READ),
                         s3_word.eq(word_of(rp.addr)),
                         s3_bank.eq(bank_of(rp_index))]
        with m.Elif(complete):
            m.d.sync += [s3_valid.eq(1), s3_id.eq(s2.id), s3_hit.eq(is_rw), s3_merged.eq(0),
                         s3_read.eq(op == CacheOp.READ), s3_word.eq(word_of(s2.addr)),
                         s3_bank.eq(bank_of(s2_index))]
        with m.Elif(self.resp.ready):
            m.d.sync += s3_valid.eq(0)

        # -- the slice FSM and stage 2's decision ----------------------------------------------
        walk_entry = Signal(entry_layout)
        m.d.comb += walk_new_entry.eq(walk_entry)
        any_dirty, dirty_way = _first_set(
            m, "dirty_way",
            [walk_entry.ways[w].valid & walk_entry.ways[w].dirty for w in range(ways)],
            cfg.way_bits)
        m.d.comb += walk_way.eq(dirty_way)
        with m.FSM(init="SWEEP", name="slice_fsm"):
            with m.State("IDLE"):
                # Independent, mutually exclusive branches (not an if-chain), so that each
                # outcome's logic is only as deep as its own conditions.
                with m.If(s2_valid & is_rw & hit):
                    # The touch and the dirty bit are written while the request waits too:
                    # both are idempotent, and it ends as a hit or a merge either way.
                    m.d.comb += [touch_way.eq(hit_way), s2_new_entry.repl.eq(touched)]
                    with m.If(op == CacheOp.WRITE):
                        for w in range(ways):
                            with m.If(s2_way_hit[w]):
                                m.d.comb += s2_new_entry.ways[w].dirty.eq(1)
                    write_entry(s2_index)
                    with m.If(hit_pending):
                        with m.If(~hit_full):
                            m.d.comb += park.eq(1)
                            count("merges")
                    with m.Else():
                        m.d.comb += complete.eq(hit_complete)
                        with m.If(complete):
                            count("hits")
                        # The word is written as soon as the port is free of replays, also
                        # while the request waits for stage 3 (it writes the same bytes again).
                        with m.If(op == CacheOp.WRITE):
                            m.d.comb += s2_write_word.eq(1)
                with m.If(s2_valid & is_rw & ~hit):
                    line = line_addr(s2_tag, s2_index)
                    with m.If(s2_miss_ok & read_slot_free & (~s2_evict_dirty | core_port)):
                        m.d.comb += [allocate.eq(1), touch_way.eq(s2_victim),
                                     s2_new_entry.repl.eq(touched),
                                     s2_new_entry.ways[s2_victim].tag.eq(s2_tag),
                                     s2_new_entry.ways[s2_victim].valid.eq(1),
                                     s2_new_entry.ways[s2_victim].dirty.eq(op == CacheOp.WRITE)]
                        write_entry(s2_index)
                        m.d.sync += [read_valid.eq(1), read_addr.eq(line),
                                     read_id.eq(mshr_free)]
                        count("misses")
                        with m.If(all_valid):
                            count("evictions")
                            if cfg.policy == "random":
                                m.d.sync += lfsr.eq(lfsr16_next(lfsr))
                        with m.If(s2_evict_dirty):
                            start_writeback(s2_index, s2_entry.ways[s2_victim].tag)
                with m.If(s2_valid & is_line_op):
                    with m.If(hit & hit_pending):
                        pass   # wait for the fill and its replays
                    with m.Elif(op == CacheOp.INVALIDATE_LINE):
                        m.d.comb += complete.eq(core_port)
                        with m.If(complete & hit):
                            for w in range(ways):
                                with m.If(s2_way_hit[w]):
                                    m.d.comb += [s2_new_entry.ways[w].valid.eq(0),
                                                 s2_new_entry.ways[w].dirty.eq(0)]
                            write_entry(s2_index)
                    with m.Elif(hit_dirty):
                        # Hand the line to the write-back buffer, mark it clean; stay.
                        with m.If(~wb_valid & core_port):
                            start_writeback(s2_index, s2_tag)
                            for w in range(ways):
                                with m.If(s2_way_hit[w]):
                                    m.d.comb += s2_new_entry.ways[w].dirty.eq(0)
                            write_entry(s2_index)
                    with m.Else():
                        m.d.comb += complete.eq(core_port & ~wb_valid)
                with m.If(s2_valid & s2_all):
                    with m.If(s2_done):
                        m.d.comb += complete.eq(core_port & ~wb_valid)
                    with m.Elif(mshr_valid.any()):
                        pass   # wait for every fill and its replays
                    with m.Elif(op == CacheOp.FLUSH_ALL):
                        m.d.sync += [cur_set.eq(0), walking.eq(1)]
                        m.next = "FLUSH_ALL_READ"
                    with m.Else():
                        m.d.sync += [cur_set.eq(0), walking.eq(1)]
                        m.next = "SWEEP"
                with m.If(s2_valid & ~is_rw & ~is_line_op & ~s2_all):
                    m.d.comb += complete.eq(core_port)   # unused operation codes

            with m.State("FLUSH_ALL_READ"):
                m.next = "FLUSH_ALL_LATCH"

            with m.State("FLUSH_ALL_LATCH"):
                m.d.sync += walk_entry.eq(entry)
                m.next = "FLUSH_ALL_CHECK"

            with m.State("FLUSH_ALL_CHECK"):
                with m.If(any_dirty):
                    with m.If(~wb_valid & s3_free):
                        start_writeback(cur_set, walk_entry.ways[dirty_way].tag)
                        m.d.comb += walk_new_entry.ways[dirty_way].dirty.eq(0)
                        m.d.sync += walk_entry.eq(walk_new_entry)
                        write_entry(cur_set)
                with m.Elif(cur_set == sets - 1):
                    m.d.sync += [s2_done.eq(1), walking.eq(0), cur_set.eq(s1_index)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += cur_set.eq(cur_set + 1)
                    m.next = "FLUSH_ALL_READ"

            with m.State("SWEEP"):
                # Reset and INVALIDATE_ALL: write an empty entry to every set.
                m.d.comb += [walk_new_entry.eq(0),
                             walk_new_entry.repl.eq(repl_reset_value(cfg.policy, ways))]
                write_entry(cur_set)
                with m.If(cur_set == sets - 1):
                    m.d.sync += [s2_done.eq(s2_valid), walking.eq(0), cur_set.eq(s1_index)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += cur_set.eq(cur_set + 1)
        return m
