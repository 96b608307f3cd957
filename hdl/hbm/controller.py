"""The HBM2/HBM2E pseudo-channel controller.

Structure
---------
``req`` (whole-line requests, :mod:`hdl.hbm.frontend`) is decoded into bank, row and column
(:class:`~hdl.hbm.config.HBMControllerConfig` ``address_map``) and enters a collapsing request
queue of ``queue_depth`` entries, kept in age order (entry 0 is the oldest). Each request
holds one *slot*, a line buffer: a write's data waits there until its bursts go out, a read's
data is assembled there until the response is accepted. A request is accepted whenever the
queue and the slots have room (``ready`` is a register). A request to the line of
a queued one, where either is a write, enters *blocked*: it issues no command until every
such older request has left the queue, so same-address requests are never reordered.

Every cycle the scheduler may issue one row command (ACT, PRE, PREA, REF) and one column
command (RD, WR; one burst), both driven onto the PHY interface (:mod:`hdl.hbm.phy`) in the
cycle they are decided, from registered state only: a request accepted in cycle ``t`` is in
the queue at ``t + 1`` and may have its first command on the PHY in that cycle.

* **Registered candidates** (docs/hbm.md, "Registered candidates and gates"): every queue
  entry holds registered candidate bits, computed one cycle ahead, for the request it will
  hold next cycle: "may take a column command" (hits; column timing), "may take an ACT"
  (bank closed; ACT timing), "may take a PRE" (row conflict, no queued hit of the current
  direction in the bank; PRE timing) and "goes in the current direction". They come from the
  timers' ``soon`` flags ("zero next cycle unless loaded now") and the bank state up to last
  cycle's commands; what they miss, the commands of the cycle they are computed in, three
  registered gates cover: no column command the cycle after a column command (``tCCD_S >=``
  the burst) or a PRE/PREA, no ACT or PRE the cycle after a row command or an RDA/WRA, no
  PRE the cycle after a column command. A request accepted in ``t`` gets its bits at
  insertion, from the request and the bank state, so it may issue at ``t + 1``.
* **Picks**: in the deciding cycle only the gates, the head-only (starvation/FCFS) flag and
  the registered bits meet; one-hot priority grants (lowest index = oldest first) pick, and
  the banks and groups the commands go to are AND-OR of the grants with per-entry registered
  one-hot banks; no bank number is decoded behind a pick.
* **Bank state**: open flag and open row of every bank (up to date), and per queue entry
  registered "bank open" and "row hit" flags, which take a cycle's row commands and
  auto-precharges in the next cycle from registered one-hot bank vectors; pairwise
  registered "same bank" and "same line" flags shift with the queue. A request leaves the
  queue the cycle after its last burst (no column command can issue in that cycle).
* **Timing**: one down-counter per constraint and scope (bank, bank group, channel), loaded
  with the largest remaining distance when a command issues (the load is registered and
  applied the next cycle), each with registered ``ready`` (zero) and ``soon`` (at most one)
  flags, plus a four-entry ring of ``tFAW`` windows. ``tRTP_L`` holds a PRE of the bank
  read, ``tRTP_S`` a PREA after a RD of any bank. Refresh and idle precharges use the
  ``ready`` flags directly.
* **FR-FCFS** (``scheduler="frfcfs"``): the column bus takes the oldest queued request of the
  current direction that hits an open row; the row bus serves the oldest request whose bank is
  closed (ACT) or open on another row with no queued hit of the current direction (PRE;
  evaluated a cycle ahead, with the candidates),
  preferring requests of the current direction. Writes are drained in batches: the direction
  turns to writes at ``write_high`` queued writes (or when no read is queued) and back at
  ``write_low``. When the oldest request has waited ``starvation_cap`` cycles, only it may
  issue commands until it is served.
* **FCFS** (``scheduler="fcfs"``): only the oldest request issues commands, strictly in order.
* **Page policy**: ``"open"`` leaves rows open; ``"closed"`` also precharges any open bank no
  queued request hits. With ``auto_precharge`` the last burst of a request is an RDA/WRA when
  no other queued request hits its row (either policy); the bank's next ACT then waits
  ``tRP`` after the internal precharge, which the controller places at the latest of
  ``tRTP_L`` after the RDA (``CWL + burst + tWR`` after the WRA) and the bank's own PRE
  timer (``tRAS``, earlier writes' ``tWR``).
* **Refresh** (``refresh="all_bank"``): a ``tREFI`` timer counts refreshes owed; when
  ``refresh_postpone`` are owed, or any are owed and the queue is empty, the controller stops
  issuing ACT and column commands, closes all banks with PREA and issues REFs, ``tRFC`` apart,
  until none is owed.
* **Per-bank refresh** (``refresh="per_bank"``): a ``tREFIpb`` timer counts REFPBs owed, paid
  to the banks in turn. While one is owed and no queued request targets the next bank, that
  bank is precharged (if open) and refreshed, with priority over the scheduler's row
  commands; once ``refresh_postpone`` are owed, ACT and column commands to that bank stop
  until it is refreshed. Only the refreshed bank waits ``tRFCpb``; ACT and REFPB of other
  banks wait ``tRREFD``.

Read data comes back on ``phy.rddata`` in the order of the RD commands, so an in-flight FIFO
names the slot and burst of every returning burst (it and the response FIFO below hold their
head in a register). When the last beat of a line arrives and
no response is waiting, the line goes out on ``resp`` in that same cycle (the earlier bursts
read from the line buffer a cycle ahead, the last from the bus); otherwise its slot joins the
response FIFO, whose head is read out onto ``resp``. Write data is read from the slot
``CWL - 1`` cycles after the WR is on the PHY and driven on ``phy.wrdata`` ``CWL`` cycles
after it.
"""

from amaranth.hdl import Array, Cat, Const, Elaboratable, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from .config import HBMControllerConfig
from .frontend import MemOp, request_layout, response_layout
from .phy import ColCommand, RowCommand, phy_signature

__all__ = ["HBMPseudoChannel"]


def _first(m, bits, name):
    """Return ``(any, index)`` of the lowest set bit among ``bits`` (combinational)."""
    index = Signal(range(max(2, len(bits))), name=f"{name}_index")
    found = Signal(name=f"{name}_any")
    for i in reversed(range(len(bits))):
        with m.If(bits[i]):
            m.d.comb += index.eq(i)
    m.d.comb += found.eq(Cat(*bits).any())
    return found, index


def _pick(m, bits, name):
    """Return ``(any, grant)``: ``grant`` one-hot at the lowest set bit of ``bits``."""
    grant = Signal(len(bits), name=f"{name}_grant")
    found = Signal(name=f"{name}_any")
    below = Const(0)
    for i, bit in enumerate(bits):
        m.d.comb += grant[i].eq(bit & ~below)
        below = below | bit
    m.d.comb += found.eq(Cat(*bits).any())
    return found, grant


def _select(m, grant, items, shape, name):
    """Return the item ``grant`` (one-hot, or zero) selects, as an AND-OR multiplexer."""
    chosen = Signal(shape, name=name)
    terms = [Mux(grant[i], item.as_value(), 0) for i, item in enumerate(items)]
    result = terms[0]
    for term in terms[1:]:
        result = result | term
    m.d.comb += chosen.eq(result)
    return chosen


class _HeadFIFO(Elaboratable):
    """A first-word-fall-through FIFO whose head (``r_data``, ``r_rdy``) is a register.

    The same ports and the same cycle behaviour as :class:`amaranth.lib.fifo.SyncFIFO`
    (a word written in cycle ``c`` is at the head in ``c + 1``), but the head comes from a
    register, not from a LUT RAM read behind the read pointer: the read-data path of the
    controller starts from it. (:class:`amaranth.lib.fifo.SyncFIFOBuffered` also has a
    registered head, but a word reaches it a cycle later, in ``c + 2``: a cycle of read
    latency, and too late for an in-flight RD with ``CL = 2``.) The caller never writes a
    full FIFO nor reads an empty one.
    """

    def __init__(self, *, width, depth):
        self.width, self.depth = width, depth
        self.w_en = Signal()
        self.w_data = Signal(width)
        self.r_en = Signal()
        self.r_data = Signal(width)
        self.r_rdy = Signal()

    def elaborate(self, platform):
        m = Module()
        depth = self.depth
        m.submodules.storage = storage = Memory(shape=self.width, depth=depth, init=[])
        write = storage.write_port()
        # The word after the head, read by a registered pointer (no adder before the RAM).
        after = storage.read_port(domain="comb")
        level = Signal(range(depth + 1))
        w_ptr = Signal(range(depth))
        r_ptr1 = Signal(range(depth), init=1 % depth)

        def bump(ptr):
            return Mux(ptr == depth - 1, 0, ptr + 1)

        m.d.comb += [
            write.addr.eq(w_ptr),
            write.data.eq(self.w_data),
            write.en.eq(self.w_en),
            after.addr.eq(r_ptr1),
        ]
        with m.If(self.w_en):
            m.d.sync += w_ptr.eq(bump(w_ptr))
        with m.If(self.r_en):
            m.d.sync += r_ptr1.eq(bump(r_ptr1))
        m.d.sync += level.eq(level + self.w_en - self.r_en)
        # Next head: the word after the head on a read (or the word written now when the
        # head is the only one); the word written now into an empty FIFO; else held.
        only = Signal()
        m.d.comb += only.eq(level == 1)
        with m.If(self.r_en):
            m.d.sync += [self.r_data.eq(Mux(only, self.w_data, after.data)),
                         self.r_rdy.eq(~only | self.w_en)]
        with m.Elif(~self.r_rdy):
            m.d.sync += [self.r_data.eq(self.w_data), self.r_rdy.eq(self.w_en)]
        return m


class _Timers:
    """Down-counters that hold the cycles left before a command is allowed.

    A load made in cycle ``s`` ("the command may issue no sooner than ``n`` cycles after
    ``s``") is registered and applied to the counter in ``s + 1``, so the counters take
    their inputs from registers only. The *true* remaining distance ``T`` is the counter or,
    in the cycle after a load, the loaded value, whichever is larger (:meth:`value`).
    Each timer comes with a registered ``ready`` flag (``T == 0``: the command may issue
    this cycle) and the input of a ``soon`` flag (``T <= 1`` next cycle), both computed from
    this cycle's loads (an OR of the late load conditions) and registers. A load made with
    ``late`` reaches ``ready`` from its registered condition instead (a gate after the
    register).
    """

    def __init__(self):
        self._timers = []
        self._loads = []
        self._ready = []
        self._values = []
        self._soon_next = []
        self._limits = []

    def timer(self, name, limit):
        """Return a new timer that holds distances up to ``limit - 1`` (every load's
        ``cycles`` is at most ``limit``; :meth:`load` checks it)."""
        signal = Signal(range(max(3, limit)), name=name)
        self._limits.append(limit)
        self._timers.append(signal)
        self._loads.append([])
        self._ready.append(Signal(name=f"{name}_ready", init=1))
        self._values.append(Signal.like(signal, name=f"{name}_distance"))
        self._soon_next.append(Signal(name=f"{name}_soon_next"))
        return signal

    def soon_next(self, timer):
        """Return next cycle's ``soon`` flag of ``timer`` (combinational, for registers).

        ``soon`` is "the distance is at most 1": the timer will be zero the cycle after
        unless it is loaded in between. The scheduler registers it, combined per bank,
        to compute each cycle's candidates a cycle ahead (docs/hbm.md).
        """
        return self._soon_next[self._index(timer)]

    def ready(self, timer):
        """Return the flag that is set while the distance of ``timer`` is zero.

        A register, ANDed with the inverse of the registered conditions of ``late`` loads.
        """
        return self._ready[self._index(timer)]

    def value(self, timer):
        """Return the true remaining distance of ``timer`` (combinational, from registers)."""
        return self._values[self._index(timer)]

    def _check_fits(self, timer, value):
        if value >= self._limits[self._index(timer)]:
            raise AssertionError(f"timer {timer.name} is too short for a distance of {value}")

    def _index(self, timer):
        return next(i for i, item in enumerate(self._timers) if item is timer)

    def load(self, timer, cond, cycles, *, flag=None, late=False):
        """Make ``timer`` allow its command no sooner than ``cycles`` after this cycle.

        ``flag``, if given, stands for ``cond`` in the ``soon`` flag: an earlier condition
        set whenever ``cond`` is (the flag is then conservative for a cycle), or ``Const(0)``
        where the caller covers the load's first cycle itself. ``ready`` stays exact; with
        ``late``, ``cond`` reaches it through its registered copy (``ready`` is then a
        register ANDed with the inverse of that copy, and ``cond`` feeds no ``ready``
        register).
        """
        self._check_fits(timer, cycles - 1)
        if cycles >= 2:
            self._loads[self._index(timer)].append(
                (cond, cycles - 1, cond if flag is None else flag, late))

    def load_value(self, timer, cond, value, bound):
        """Like :meth:`load`, with ``value`` (cycles - 1, at least 1, at most ``bound``)
        computed at run time."""
        self._check_fits(timer, bound)
        self._loads[self._index(timer)].append((cond, value, cond, False))

    def elaborate(self, m):
        for index, (timer, loads, ready) in enumerate(zip(
                self._timers, self._loads, self._ready, strict=True)):
            # Last cycle's loads, registered: (condition, distance now) pairs.
            held = []
            late_held = []
            for k, (cond, value, _, late) in enumerate(loads):
                cond_r = Signal(name=f"{timer.name}_load{k}")
                m.d.sync += cond_r.eq(cond)
                if not isinstance(value, int):
                    value_r = Signal.like(timer, name=f"{timer.name}_value{k}")
                    m.d.sync += value_r.eq(value)
                    value = value_r
                held.append((cond_r, value))
                if late:
                    late_held.append(cond_r)
            # The true distance: the counter, or a load of last cycle if larger.
            true = timer
            for cond_r, value in held:
                true = Mux(cond_r & (value > true), value, true)
            m.d.comb += self._values[index].eq(true)
            # Next counter: the largest of the decremented counter and the held loads less
            # one; each candidate is computed from registers, a priority multiplexer (largest
            # constant last, so it wins) picks by the registered conditions. A load computed
            # at run time has the lowest priority: the controller never loads one timer with a
            # run-time value and a constant in the same cycle (docs/hbm.md, "Timing").
            # ("The decremented counter is below ``value - 1``" is "the counter is below
            # ``value``": for a zero counter both hold but for ``value`` 1, where either choice
            # gives 0. So no comparison waits for the decrement.)
            count_down = Mux(timer != 0, timer - 1, 0)
            next_value = count_down
            for cond_r, value in held:
                if not isinstance(value, int):
                    next_value = Mux(cond_r & (timer < value), value - 1, next_value)
            for cond_r, value in sorted((item for item in held if isinstance(item[1], int)),
                                        key=lambda item: item[1]):
                if value >= 2:
                    next_value = Mux(cond_r & (timer < value), value - 1, next_value)
            m.d.sync += timer.eq(next_value)

            def held_at_least(n, held=held):
                terms = [cond_r & (value >= n) if not isinstance(value, int) else cond_r
                         for cond_r, value in held
                         if not isinstance(value, int) or value >= n]
                return Cat(*terms).any() if terms else Const(0)

            def loaded_at_least(n, exact, loads=loads):
                # This cycle's loads that leave a distance of at least ``n`` next cycle
                # (run-time values: all of them, conservatively), by their conditions
                # (``exact``) or their flags.
                terms = [cond if exact else flag for cond, value, flag, late in loads
                         if (not isinstance(value, int) or value >= n)
                         and not (exact and late)]
                return Cat(*terms).any() if terms else Const(0)

            soon_next = self._soon_next[index]
            m.d.comb += soon_next.eq(~loaded_at_least(2, exact=False) & ~held_at_least(3)
                                     & (timer <= 2))
            ready_r = Signal(name=f"{timer.name}_ready_r", init=1)
            m.d.sync += ready_r.eq(~loaded_at_least(1, exact=True) & ~held_at_least(2)
                                   & (timer <= 1))
            m.d.comb += ready.eq(ready_r & ~Cat(Const(0), *late_held).any())


class HBMPseudoChannel(wiring.Component):
    """Controller of one HBM pseudo-channel: queue, FR-FCFS/FCFS scheduler, refresh.

    Parameters
    ----------
    config : HBMControllerConfig
        Timing, geometry, queue depth, scheduling and refresh policy, address mapping.

    Attributes
    ----------
    req : In(stream.Signature(request_layout))
        Whole-line read and write requests.
    resp : Out(stream.Signature(response_layout))
        Read data with the request's ID.
    phy : Out(phy_signature)
        Row and column command buses, write data out, read data in.
    """

    def __init__(self, *, config=None):
        if config is None:
            config = HBMControllerConfig()
        if not isinstance(config, HBMControllerConfig):
            self._MustUse__silence = True  # a rejected component is not "unused"
            raise TypeError(f"config must be an HBMControllerConfig, not {config!r}")
        self._config = config
        super().__init__({
            "req": In(stream.Signature(request_layout(
                addr_width=config.addr_width, id_width=config.id_width,
                line_bytes=config.line_bytes))),
            "resp": Out(stream.Signature(response_layout(
                id_width=config.id_width, line_bytes=config.line_bytes))),
            "phy": Out(phy_signature(config.geometry, config.timing)),
        })

    @property
    def config(self):
        """The controller's configuration."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        t, geo = cfg.timing, cfg.geometry
        queue_depth, slots, bursts = cfg.queue_depth, cfg.slots, cfg.bursts_per_line
        banks, groups, per_group = geo.banks, geo.bank_groups, geo.banks_per_group
        group_shift = exact_log2(per_group)
        widths, offsets = cfg.field_widths(), cfg.field_offsets()
        bank_w = max(1, exact_log2(banks))
        row_w = max(1, widths["row"])
        col_w = max(1, widths["column"])
        burst_w = max(1, exact_log2(bursts))
        slot_w = max(1, ceil_log2(slots))
        beat_cycles = t.burst_cycles
        beat_bits = geo.bus_width * t.data_rate
        wde = t.write_data_end

        entry_layout = data.StructLayout({
            "write": 1, "bank": bank_w, "row": row_w, "col": col_w, "burst": burst_w,
            "slot": slot_w,
        })

        def group_of(bank):
            return bank[group_shift:] if group_shift < len(bank) else Const(0, 1)

        # -- queue ---------------------------------------------------------------------
        # Entry 0 is the oldest. Besides each request, registered per entry: a thermometer
        # code of the fill level (``valid``), the bank one-hot and, for every pair of
        # entries, "same bank" and "same line" (bank, row and column), all shifting with the
        # queue, so that no bank comparison sits behind a pick.
        entries = [Signal(entry_layout, name=f"entry{i}") for i in range(queue_depth)]
        valid = Signal(queue_depth)
        bank_oh = [Signal(banks, name=f"bank_oh{i}") for i in range(queue_depth)]
        same_bank, same_line = {}, {}
        for i in range(queue_depth):
            for j in range(i + 1, queue_depth):
                same_bank[i, j] = Signal(name=f"same_bank{i}_{j}")
                same_line[i, j] = Signal(name=f"same_line{i}_{j}")

        def sb(i, j):
            return Const(1) if i == j else same_bank[min(i, j), max(i, j)]

        def sl(i, j):
            return Const(1) if i == j else same_line[min(i, j), max(i, j)]

        def group_oh(oh):
            return Cat(*[oh[g * per_group:(g + 1) * per_group].any() for g in range(groups)])

        def any_of(terms):
            terms = list(terms)
            return Cat(*terms).any() if terms else Const(0)

        # -- bank state ----------------------------------------------------------------
        bank_open = Signal(banks)
        open_row = [Signal(row_w, name=f"open_row{b}") for b in range(banks)]
        open_row_array = Array(open_row)

        # -- timers ----------------------------------------------------------------------
        timers = _Timers()
        # Each timer as wide as its longest load (see "timer loads"; ``load`` checks it).
        # The ACT timers also take an auto-precharge's tRP after its internal precharge, a
        # run-time distance of at most ``ap_bound`` (the PRE timer's longest distance or the
        # write recovery, then tRP).
        pre_longest = max(t.tRAS, wde + t.tWR, t.tRTP_L)
        ap_bound = max(pre_longest - 1, wde + t.tWR) + t.tRP - 1
        act_longest = max(t.tRC, t.tRP, t.tRFC, t.tRFCpb, ap_bound + 1)
        act_t = [timers.timer(f"act_t{b}", act_longest) for b in range(banks)]
        col_t = [timers.timer(f"col_t{b}", t.tRCD) for b in range(banks)]
        pre_t = [timers.timer(f"pre_t{b}", pre_longest) for b in range(banks)]
        act_grp_t = [timers.timer(f"act_grp_t{g}", t.tRRD_L) for g in range(groups)]
        rd_grp_t = [timers.timer(f"rd_grp_t{g}", max(t.tCCD_L, wde + t.tWTR_L))
                    for g in range(groups)]
        wr_grp_t = [timers.timer(f"wr_grp_t{g}", t.tCCD_L) for g in range(groups)]
        act_all_t = timers.timer("act_all_t", max(t.tRRD_S, t.tRREFD))
        prea_t = timers.timer("prea_t", t.tRTP_S)
        rd_all_t = timers.timer("rd_all_t", max(t.tCCD_S, wde + t.tWTR_S))
        wr_all_t = timers.timer("wr_all_t", max(t.tCCD_S, t.tRTW))
        row_bus_t = timers.timer("row_bus_t", 3)
        faw_t = [timers.timer(f"faw_t{k}", t.tFAW) for k in range(4)]
        faw_ptr = Signal(2)

        def flags(name, items):
            bits = Signal(len(items), name=name)
            m.d.comb += bits.eq(Cat(*[timers.ready(item) for item in items]))
            return bits

        # ``*_ok``: the timer is zero (refresh and idle precharges use these exact flags).
        act_ok = flags("act_ok", act_t)
        pre_ok = flags("pre_ok", pre_t)
        act_grp_ok = flags("act_grp_ok", act_grp_t)
        row_bus_ok = Signal()
        m.d.comb += row_bus_ok.eq(timers.ready(row_bus_t))

        # -- refresh bookkeeping -------------------------------------------------------------
        per_bank = cfg.refresh == "per_bank"
        interval = t.tREFIpb if per_bank else t.tREFI
        refi = Signal(range(interval), init=interval - 1)
        owed = Signal(range(cfg.refresh_postpone + 8))
        refreshing = Signal()      # all-bank refresh in progress
        refi_tick = Signal()
        m.d.comb += refi_tick.eq(refi == 0)
        m.d.sync += refi.eq(Mux(refi_tick, interval - 1, refi - 1))
        pb_bank = Signal(bank_w)   # per-bank refresh: the next bank to refresh
        pb_want = Signal()         # a REFPB is owed
        pb_force = Signal()        # ... and may not wait any longer
        if per_bank:
            m.d.comb += [pb_want.eq(owed != 0), pb_force.eq(owed >= cfg.refresh_postpone)]

        # -- scheduling mode -----------------------------------------------------------------
        queued_writes = Signal(range(queue_depth + 1))
        queued_reads = Signal(range(queue_depth + 1))
        head_wait = Signal(range(cfg.starvation_cap + 1))
        starving = Signal()        # registered head-only flag: starvation, or FCFS

        # -- per-entry candidates --------------------------------------------------------
        # ``open_r[i]`` / ``hit_r[i]``: the bank of queue entry ``i`` is open / open on its
        # row. Registers kept up to date on insert, shift, ACT, PRE, PREA and auto-precharge
        # (see "queue update").
        open_r = [Signal(name=f"open_r{i}") for i in range(queue_depth)]
        hit_r = [Signal(name=f"hit_r{i}") for i in range(queue_depth)]
        # ``same_dir``: the request goes in next cycle's direction, the one its column
        # command may take then (``col_r`` is computed with ``write_mode_next`` too).
        write_mode_next = Signal(init=cfg.write_high == 0)   # a register ("write mode")
        hit, same_dir = [], []
        for i, entry in enumerate(entries):
            h = Signal(name=f"hit{i}")
            d = Signal(name=f"same_dir{i}")
            m.d.comb += [
                h.eq(hit_r[i]),          # (clear in an empty entry: see ``next_state``)
                d.eq(entry.write == write_mode_next),
            ]
            hit.append(h)
            same_dir.append(d)
        bank_hit_any = Signal(banks)   # any queued request hits (closed-page policy)
        if cfg.page_policy == "closed":
            for b in range(banks):
                m.d.comb += bank_hit_any[b].eq(any_of(hit[i] & bank_oh[i][b]
                                                      for i in range(queue_depth)))

        # A queued request of next cycle's direction hits the row open in entry i's bank (so
        # entry i may not precharge it next cycle, when that request may read or write it).
        hit_mine_now = Signal(queue_depth)
        for i in range(queue_depth):
            m.d.comb += hit_mine_now[i].eq(any_of(hit[j] & same_dir[j] & sb(i, j)
                                                  for j in range(queue_depth)))
        pb_open = Signal()
        m.d.comb += pb_open.eq(bank_open.bit_select(pb_bank, 1))

        # Registered candidates (docs/hbm.md, "Registered candidates and gates"), computed
        # last cycle for the request now in entry ``i``, zero for an empty or blocked entry:
        # ``col_r[i]``: its next RD/WR may go; ``row_r[i]``: its ACT or PRE may go (ACT when
        # ``open_r[i]`` is clear); ``pref_r[i]``: ``row_r[i]`` and it goes in the current
        # direction. They hold the request's bank state and the timers' ``soon`` flags, the
        # head-only flag (starvation, FCFS) and the gates: last cycle's commands are all they
        # miss, and the gates block every command those may affect (no column command after a
        # column command or a PRE/PREA; no ACT/PRE after a row command or an RDA/WRA; no PRE
        # after a column command; nothing while refreshing).
        col_r = [Signal(name=f"col_r{i}") for i in range(queue_depth)]
        row_r = [Signal(name=f"row_r{i}") for i in range(queue_depth)]
        pref_r = [Signal(name=f"pref_r{i}") for i in range(queue_depth)]

        # The ``soon`` flags combined per bank (its own, its group's and the channel's
        # timers), registered from the flags' register inputs, so they equal the AND of the
        # ``soon`` flags: one select by the request's bank gives its timing.
        all_banks = (1 << banks) - 1
        bank_rd_soon = Signal(banks, init=all_banks)
        bank_wr_soon = Signal(banks, init=all_banks)
        bank_act_soon = Signal(banks, init=all_banks)
        bank_pre_soon = Signal(banks, init=all_banks)
        chan_act_soon = Signal(init=1)
        sn = timers.soon_next
        for b in range(banks):
            g = b // per_group
            m.d.sync += [
                bank_rd_soon[b].eq(sn(col_t[b]) & sn(rd_grp_t[g]) & sn(rd_all_t)),
                bank_wr_soon[b].eq(sn(col_t[b]) & sn(wr_grp_t[g]) & sn(wr_all_t)),
                bank_act_soon[b].eq(sn(act_t[b]) & sn(act_grp_t[g])),
                bank_pre_soon[b].eq(sn(pre_t[b]) & sn(row_bus_t)),
            ]
        faw_soon_next = Array(sn(item) for item in faw_t)
        # The column commands' own loads (tCCD, tWTR, tRTW; tRTP and write recovery to PRE)
        # leave the ``soon`` flags (``flag=Const(0)``) and come back a cycle later as these
        # registered per-bank masks (a load of at least 3 cycles clears its flags for the
        # cycle after it), so the flags' registers do not wait for the column pick.
        rd_late = Signal(banks)
        wr_late = Signal(banks)
        pre_late = Signal(banks)
        # Last cycle's ACTs and closes (PRE, PREA, auto-precharge), one-hot by bank, and the
        # ACT's row (see "queue update").
        act_vec_r = Signal(banks)
        act_row_r = Signal(row_w)
        close_vec_r = Signal(banks)
        # Per bank, from registers only: a column command / a PRE to a request's bank may go
        # next cycle as far as timing and last cycle's row commands go (a column command
        # needs a bank neither opened nor closed last cycle; a PRE, one not closed).
        col_rd_ok = Signal(banks)
        col_wr_ok = Signal(banks)
        pre_bank_ok = Signal(banks)
        m.d.comb += [
            col_rd_ok.eq(bank_rd_soon & ~rd_late & ~act_vec_r & ~close_vec_r),
            col_wr_ok.eq(bank_wr_soon & ~wr_late & ~act_vec_r & ~close_vec_r),
            pre_bank_ok.eq(bank_pre_soon & ~pre_late & ~close_vec_r),
        ]
        # (``act_fire`` is defined with the row command below; the tFAW pointer moves on ACT.)

        def times_next(entry, oh, name):
            """Return next cycle's (col, act, pre) flags of the request ``entry``.

            The flags are picked by the request's one-hot bank ``oh`` (an AND-OR, from
            registers), not by its bank number, which fans out to every multiplexer. ``col``
            and ``pre`` include "not opened / closed last cycle" (``col_rd_ok``...): for a
            queued request that is ``~act_here & ~closes`` / ``~closes``; a request entering
            now is blocked after an ACT to its bank and sees a close in ``bank_open``.
            """
            col = Signal(name=f"{name}_col_time")
            act = Signal(name=f"{name}_act_time")
            pre = Signal(name=f"{name}_pre_time")
            m.d.comb += [
                col.eq(Mux(entry.write, (col_wr_ok & oh).any(), (col_rd_ok & oh).any())),
                act.eq((bank_act_soon & oh).any() & chan_act_soon),
                pre.eq((pre_bank_ok & oh).any()),
            ]
            return col, act, pre

        col_cand, row_cand, row_pref = col_r, row_r, pref_r
        if per_bank:
            # Once a refresh is forced, its bank takes no commands but the refresh's.
            col_cand, row_cand, row_pref = [], [], []
            for i, entry in enumerate(entries):
                blocked = pb_force & (entry.bank == pb_bank)
                c, r, p = (Signal(name=f"{kind}_cand{i}") for kind in ("col", "row", "pref"))
                m.d.comb += [c.eq(col_r[i] & ~blocked), r.eq(row_r[i] & ~blocked),
                             p.eq(pref_r[i] & ~blocked)]
                col_cand.append(c)
                row_cand.append(r)
                row_pref.append(p)

        # -- column pick -------------------------------------------------------------------
        col_fire, col_grant = _pick(m, col_cand, "col")
        col_entry = _select(m, col_grant, entries, entry_layout, "col_entry")
        last = Signal(queue_depth)       # the entry's next burst is its last
        ap_ok = Signal(queue_depth)      # ... and no other queued request hits its row
        for j, entry in enumerate(entries):
            m.d.comb += last[j].eq(entry.burst == bursts - 1 if bursts > 1 else 1)
            if cfg.auto_precharge:
                m.d.comb += ap_ok[j].eq(last[j] & ~any_of(
                    hit[k] & sb(k, j) for k in range(queue_depth) if k != j))
        col_last = Signal()
        rd_fire = Signal()
        wr_fire = Signal()
        auto_pre = Signal()
        rd_grant = Signal(queue_depth)
        wr_grant = Signal(queue_depth)
        ap_grant = Signal(queue_depth)
        m.d.comb += [
            rd_grant.eq(col_grant & ~Cat(*[e.write for e in entries])),
            wr_grant.eq(col_grant & Cat(*[e.write for e in entries])),
            ap_grant.eq(col_grant & ap_ok),
            col_last.eq((col_grant & last).any()),
            rd_fire.eq(rd_grant.any()),
            wr_fire.eq(wr_grant.any()),
            auto_pre.eq(ap_grant.any()),
        ]

        # -- row pick ----------------------------------------------------------------------
        pref_any, pref_grant = _pick(m, row_pref, "row_pref")
        row_any, any_grant = _pick(m, row_cand, "row_any")
        row_grant = Signal(queue_depth)
        m.d.comb += row_grant.eq(Mux(pref_any, pref_grant, any_grant))
        row_entry = _select(m, row_grant, entries, entry_layout, "row_entry")

        # Refresh and closed-page precharges.
        all_closed = Signal()
        m.d.comb += all_closed.eq(bank_open == 0)
        prea_ready = Signal()
        m.d.comb += prea_ready.eq(Cat(*[
            ~bank_open[b] | pre_ok[b] for b in range(banks)
        ]).all() & timers.ready(prea_t) & row_bus_ok & ~all_closed)
        ref_ready = Signal()
        m.d.comb += ref_ready.eq(all_closed & act_ok.all() & row_bus_ok)
        idle_pre = Signal(banks)
        if cfg.page_policy == "closed":
            for b in range(banks):
                m.d.comb += idle_pre[b].eq(
                    bank_open[b] & ~bank_hit_any[b] & pre_ok[b] & row_bus_ok & ~refreshing)
        idle_any, idle_grant = _pick(m, list(idle_pre), "idle_pre")
        idle_bank = Signal(bank_w)
        for b in reversed(range(banks)):
            with m.If(idle_pre[b]):
                m.d.comb += idle_bank.eq(b)

        # Per-bank refresh of ``pb_bank``: when no queued request needs it, or when forced.
        pb_group = group_of(pb_bank)
        pb_busy = Signal()
        m.d.comb += pb_busy.eq(Cat(*[valid[i] & (e.bank == pb_bank)
                                     for i, e in enumerate(entries)]).any())
        pb_go = pb_want & (pb_force | ~pb_busy)
        refpb_ready = Signal()
        pb_pre_ready = Signal()
        m.d.comb += [
            refpb_ready.eq(pb_go & ~pb_open & act_ok.bit_select(pb_bank, 1)
                           & act_grp_ok.bit_select(pb_group, 1) & timers.ready(act_all_t)
                           & row_bus_ok),
            pb_pre_ready.eq(pb_go & pb_open & pre_ok.bit_select(pb_bank, 1) & row_bus_ok),
        ]

        # -- decide the row command ------------------------------------------------------------
        # Priority: refresh (PREA, REF), REFPB, the per-bank refresh's PRE, the queue's ACT or
        # PRE (by the granted entry's registered ``open_r``), closed-page idle PRE.
        act_fire = Signal()
        pre_fire = Signal()
        prea_fire = Signal()
        ref_fire = Signal()
        refpb_fire = Signal()
        pb_pre_fire = Signal()
        idle_fire = Signal()
        act_grant = Signal(queue_depth)
        qpre_grant = Signal(queue_depth)
        queue_row = ~refreshing & ~refpb_ready & ~pb_pre_ready
        m.d.comb += [
            prea_fire.eq(refreshing & prea_ready),
            ref_fire.eq(refreshing & ref_ready & (owed != 0)),
            refpb_fire.eq(~refreshing & refpb_ready),
            pb_pre_fire.eq(~refreshing & ~refpb_ready & pb_pre_ready),
            act_grant.eq(Mux(queue_row, row_grant & ~Cat(*open_r), 0)),
            qpre_grant.eq(Mux(queue_row, row_grant & Cat(*open_r), 0)),
            idle_fire.eq(queue_row & ~row_any & idle_any),
            act_fire.eq(act_grant.any()),
            pre_fire.eq(qpre_grant.any() | pb_pre_fire | idle_fire),
        ]
        # Banks of this cycle's commands, one-hot, from the granted entries' one-hot banks.
        def bank_vector(name, grant):
            vec = Signal(banks, name=name)
            for b in range(banks):
                m.d.comb += vec[b].eq(any_of(grant[j] & bank_oh[j][b]
                                             for j in range(queue_depth)))
            return vec

        def group_vector(name, grant):
            vec = Signal(groups, name=name)
            for g in range(groups):
                m.d.comb += vec[g].eq(any_of(grant[j] & group_oh(bank_oh[j])[g]
                                             for j in range(queue_depth)))
            return vec

        pb_oh = Signal(banks)
        m.d.comb += pb_oh.eq(Const(1, banks) << pb_bank)
        ext_pre = Signal(banks)          # PREs not from the queue: per-bank refresh, idle
        m.d.comb += ext_pre.eq(Mux(pb_pre_fire, pb_oh, 0) | Mux(idle_fire, idle_grant, 0))
        act_vec = bank_vector("act_vec", act_grant)
        pre_vec = Signal(banks)
        m.d.comb += pre_vec.eq(bank_vector("qpre_vec", qpre_grant) | ext_pre)
        rd_vec = bank_vector("rd_vec", rd_grant)
        wr_vec = bank_vector("wr_vec", wr_grant)
        ap_vec = bank_vector("ap_vec", ap_grant)
        act_gvec = group_vector("act_gvec", act_grant)
        rd_gvec = group_vector("rd_gvec", rd_grant)
        wr_gvec = group_vector("wr_gvec", wr_grant)

        # Commands are driven onto the PHY in the cycle they are decided (the PHY registers
        # them, as a DFI PHY does); they depend on registered state only.
        row_bank = Signal(bank_w)
        with m.If(refpb_fire | pb_pre_fire):
            m.d.comb += row_bank.eq(pb_bank)
        with m.Elif(idle_fire):
            m.d.comb += row_bank.eq(idle_bank)
        with m.Else():
            m.d.comb += row_bank.eq(row_entry.bank)
        m.d.comb += [
            self.phy.row_cmd.bank.eq(row_bank),
            self.phy.row_cmd.row.eq(row_entry.row),
        ]
        with m.If(act_fire):
            m.d.comb += self.phy.row_cmd.cmd.eq(RowCommand.ACT)
            m.d.sync += faw_ptr.eq(faw_ptr + 1)
        # (A queue row command this cycle clears it: the tFAW pointer then needs no update.)
        m.d.sync += chan_act_soon.eq(~row_any & sn(act_all_t) & sn(row_bus_t)
                                     & faw_soon_next[faw_ptr])
        with m.If(pre_fire):
            m.d.comb += self.phy.row_cmd.cmd.eq(RowCommand.PRE)
        with m.If(prea_fire):
            m.d.comb += self.phy.row_cmd.cmd.eq(RowCommand.PREA)
        with m.If(ref_fire):
            m.d.comb += self.phy.row_cmd.cmd.eq(RowCommand.REF)
        with m.If(refpb_fire):
            m.d.comb += self.phy.row_cmd.cmd.eq(RowCommand.REFPB)
            m.d.sync += pb_bank.eq(pb_bank + 1)
        for b in range(banks):
            with m.If(act_vec[b]):
                m.d.sync += [bank_open[b].eq(1), open_row[b].eq(row_entry.row)]
            with m.Elif(pre_vec[b] | prea_fire | ap_vec[b]):
                m.d.sync += bank_open[b].eq(0)

        # -- decide the column command ---------------------------------------------------------
        column = Cat(col_entry.burst, col_entry.col) if bursts > 1 else col_entry.col
        # One whole-bus assignment: a constant ``ap`` on its own would be written out as a
        # sensitivity-less ``always @*`` that never runs in Icarus.
        col_word = Signal.like(self.phy.col_cmd)
        m.d.comb += [
            col_word.bank.eq(col_entry.bank),
            col_word.col.eq(column),
            col_word.ap.eq(auto_pre),
            col_word.cmd.eq(Mux(wr_fire, ColCommand.WR, Mux(rd_fire, ColCommand.RD,
                                                             ColCommand.NOP))),
            self.phy.col_cmd.eq(col_word),
        ]

        # -- timer loads -------------------------------------------------------------------------
        # The flags of timers that the queue's ACT/PRE load take "the queue has a row
        # candidate" (registers, no pick) instead of the bank's grant: conservative for one
        # cycle. ``tRCD`` needs no flag: the requests of an ACT's bank take the ACT into
        # their state a cycle later, with their column candidate cleared that cycle.
        # PREA's flag is ``refreshing`` (a register): while refreshing no ACT may issue, and
        # a refresh run ends only after a REF, whose tRFC keeps every ACT flag clear then.
        pre_flag = row_any | pb_pre_fire | idle_fire | refreshing
        for b in range(banks):
            this_pre = pre_vec[b] | prea_fire
            # (``act_ok`` waits for refresh only: the picks reach it a cycle late.)
            timers.load(act_t[b], act_vec[b], t.tRC, flag=row_any, late=True)
            timers.load(act_t[b], this_pre, t.tRP, flag=pre_flag, late=True)
            timers.load(act_t[b], ref_fire, t.tRFC)
            timers.load(act_t[b], refpb_fire & pb_oh[b], t.tRFCpb, flag=refpb_fire)
            timers.load(col_t[b], act_vec[b], t.tRCD, flag=Const(0))
            timers.load(pre_t[b], act_vec[b], t.tRAS, flag=row_any)
            timers.load(pre_t[b], wr_vec[b], wde + t.tWR, flag=Const(0))
            timers.load(pre_t[b], rd_vec[b], t.tRTP_L, flag=Const(0))
            if cfg.auto_precharge:
                # ACT no sooner than tRP after the internal precharge (see the docstring),
                # from registers only: the grants just choose between the two values.
                for write, own in ((0, t.tRTP_L), (1, wde + t.tWR)):
                    distance = timers.value(pre_t[b])
                    start = Mux(distance > own, distance, own)
                    vec = wr_vec if write else rd_vec
                    timers.load_value(act_t[b], ap_vec[b] & vec[b], start + (t.tRP - 1),
                                      ap_bound)
        for g in range(groups):
            timers.load(act_grp_t[g], act_gvec[g], t.tRRD_L, flag=row_any)
            timers.load(rd_grp_t[g], rd_gvec[g], t.tCCD_L, flag=Const(0))
            timers.load(rd_grp_t[g], wr_gvec[g], wde + t.tWTR_L, flag=Const(0))
            timers.load(wr_grp_t[g], wr_gvec[g], t.tCCD_L, flag=Const(0))
        timers.load(act_all_t, act_fire, t.tRRD_S, flag=row_any)
        timers.load(act_all_t, refpb_fire, t.tRREFD)
        timers.load(prea_t, rd_fire, t.tRTP_S)
        timers.load(rd_all_t, rd_fire, t.tCCD_S, flag=Const(0))
        timers.load(rd_all_t, wr_fire, wde + t.tWTR_S, flag=Const(0))
        timers.load(wr_all_t, wr_fire, t.tCCD_S, flag=Const(0))
        timers.load(wr_all_t, rd_fire, t.tRTW, flag=Const(0))

        def at_least_3(cond, cycles):
            return cond if cycles >= 3 else Const(0)

        for b in range(banks):
            g = b // per_group
            m.d.sync += [
                rd_late[b].eq(at_least_3(rd_gvec[g], t.tCCD_L)
                              | at_least_3(wr_gvec[g], wde + t.tWTR_L)
                              | at_least_3(rd_fire, t.tCCD_S)
                              | at_least_3(wr_fire, wde + t.tWTR_S)),
                wr_late[b].eq(at_least_3(wr_gvec[g], t.tCCD_L)
                              | at_least_3(wr_fire, t.tCCD_S)
                              | at_least_3(rd_fire, t.tRTW)),
                pre_late[b].eq(at_least_3(wr_vec[b], wde + t.tWR)
                               | at_least_3(rd_vec[b], t.tRTP_L)),
            ]
        timers.load(row_bus_t, act_fire, 2, flag=row_any)
        for k in range(4):
            timers.load(faw_t[k], act_fire & (faw_ptr == k), t.tFAW,
                        flag=row_any & (faw_ptr == k))
        timers.elaborate(m)

        # -- refresh state -----------------------------------------------------------------------
        owed_next = Signal.like(owed)
        m.d.comb += owed_next.eq(owed + refi_tick - ref_fire - refpb_fire)
        m.d.sync += owed.eq(owed_next)
        refreshing_next = Signal()
        if not per_bank:
            want_refresh = (owed >= cfg.refresh_postpone) | ((owed != 0) & ~valid[0])
            # A refresh run ends the cycle after its last REF (``owed`` is zero then): every
            # bank is closed and in tRFC that cycle, so nothing could issue in it anyway,
            # and the gates behind ``refreshing_next`` do not wait for the REF's conditions.
            m.d.comb += refreshing_next.eq(Mux(refreshing, owed != 0, want_refresh))
        m.d.sync += refreshing.eq(refreshing_next)

        # -- accept requests ---------------------------------------------------------------------
        free = Signal(slots, init=(1 << slots) - 1)
        # ``req.ready`` is one register: next cycle the queue has room and a slot is free.
        ready = Signal(init=1)
        queue_full_next = Signal()
        _, alloc = _first(m, list(free), "alloc")
        req = self.req.payload
        new = Signal(entry_layout)
        field_value = {}
        for name in ("bank_group", "bank", "column", "row"):
            width = widths[name]
            field_value[name] = (req.addr[offsets[name]:offsets[name] + width] if width
                                 else Const(0, 1))
        m.d.comb += [
            new.write.eq(req.op == MemOp.WRITE),
            new.bank.eq(Cat(field_value["bank"][:group_shift] if group_shift else Cat(),
                            field_value["bank_group"])),
            new.row.eq(field_value["row"]),
            new.col.eq(field_value["column"]),
            new.burst.eq(0),
            new.slot.eq(alloc),
        ]
        # The request against every queued one: same bank, same line. A request to the line
        # of a queued one, where either is a write, enters the queue *blocked*: it issues no
        # command until every such older request has left (``blocked`` in "queue update"),
        # so same-line requests are never reordered, and ``ready`` depends on registers only.
        new_sb = Signal(queue_depth)
        new_sl = Signal(queue_depth)
        for j, e in enumerate(entries):
            m.d.comb += [new_sb[j].eq(e.bank == new.bank),
                         new_sl[j].eq(new_sb[j] & (e.row == new.row) & (e.col == new.col))]
        m.d.comb += self.req.ready.eq(ready)
        insert = Signal()
        m.d.comb += insert.eq(self.req.valid & self.req.ready)

        slot_id = [Signal(cfg.id_width, name=f"slot_id{s}") for s in range(slots)]
        slot_id_array = Array(slot_id)
        with m.If(insert):
            m.d.sync += slot_id_array[alloc].eq(req.id)

        m.submodules.wdata = wdata = Memory(
            shape=data.StructLayout({"data": 8 * cfg.line_bytes, "mask": cfg.line_bytes}),
            depth=slots, init=[])
        wdata_w = wdata.write_port()
        m.d.comb += [
            wdata_w.addr.eq(alloc),
            wdata_w.data.data.eq(req.data),
            wdata_w.data.mask.eq(req.mask),
            wdata_w.en.eq(insert & new.write),
        ]

        # -- queue update ------------------------------------------------------------------------
        # ``shift[i]``: entry i takes entry i + 1's request (a request at or below i leaves);
        # ``ins[i]``: the new request goes to entry i (the first free one after the shift).
        # A request leaves the queue the cycle after its last burst (``leave`` is registered):
        # the shift then depends on registers only. In that cycle no column command may
        # issue (``col_gate``) and the leaving request is no row candidate (it hits).
        leave = Signal(queue_depth)
        m.d.sync += leave.eq(col_grant & last)
        remove = Signal()
        m.d.comb += remove.eq(leave.any())
        shift = Signal(queue_depth)
        ins = Signal(queue_depth)
        for i in range(queue_depth):
            filled_to = [Const(1)] + [valid[k] for k in range(queue_depth)] + [Const(0)]

            def count_is(k, filled_to=filled_to):
                return filled_to[k] & ~filled_to[k + 1]

            m.d.comb += [
                shift[i].eq(leave[:i + 1].any()),
                ins[i].eq(insert & Mux(remove, count_is(i + 1), count_is(i))),
            ]
        with m.If(insert & ~remove):
            m.d.sync += valid.eq(Cat(Const(1), valid[:-1]))
        with m.Elif(remove & ~insert):
            m.d.sync += valid.eq(valid[1:])
        m.d.comb += queue_full_next.eq(
            Mux(insert & ~remove, valid[queue_depth - 2],
                Mux(remove & ~insert, 0, valid[queue_depth - 1])))
        new_oh = Signal(banks)
        m.d.comb += new_oh.eq(Const(1, banks) << new.bank)
        for i in range(queue_depth):
            nxt = i + 1 if i + 1 < queue_depth else i
            with m.If(ins[i]):
                m.d.sync += [entries[i].eq(new), bank_oh[i].eq(new_oh)]
            with m.Elif(shift[i]):
                if i + 1 < queue_depth:
                    m.d.sync += [entries[i].eq(entries[nxt]), bank_oh[i].eq(bank_oh[nxt])]
            with m.Elif(col_grant[i]):
                m.d.sync += entries[i].burst.eq(entries[i].burst + 1)
        for matrix, new_rel, rel in ((same_bank, new_sb, sb), (same_line, new_sl, sl)):
            for (i, j), bit in matrix.items():
                with m.If(ins[j]):
                    m.d.sync += bit.eq(Mux(shift[i], new_rel[i + 1], new_rel[i]))
                with m.Elif(shift[i]):
                    if j + 1 < queue_depth:
                        m.d.sync += bit.eq(rel(i + 1, j + 1))
                with m.Elif(shift[j]):
                    if j + 1 < queue_depth:
                        m.d.sync += bit.eq(rel(i, j + 1))

        # The bank state of every request next cycle, after this cycle's row commands and
        # auto-precharge; then the queue shift picks which request each entry holds.
        new_open = Signal()
        new_hit = Signal()
        m.d.comb += [
            new_open.eq(bank_open.bit_select(new.bank, 1)),
            new_hit.eq(new_open & (open_row_array[new.bank] == new.row)),
        ]

        # With tRAS and tRP of at least 3 cycles, every flag a row command clears stays
        # clear the cycle after (see ``next_state``).
        lag_free = t.tRAS >= 3 and t.tRP >= 3

        def next_state(name, exists, present, entry, oh, opened, hits, mine, act_here,
                       act_hit, closes):
            """Return next cycle's per-entry registers of the request ``entry``.

            ``exists``: the entry holds a request (its next ``hit`` is cleared otherwise, so
            ``hit_r`` is clear in every empty entry and ``hit`` needs no ``valid``).
            ``opened`` / ``hits`` with last cycle's commands applied (``act_here``,
            ``act_hit``, ``closes``) are the bank state up to last cycle's commands; the
            candidates follow from them and the ``soon`` flags, and miss only this cycle's
            commands, which the gates cover next cycle.
            """
            col_time, act_time, pre_time = times_next(entry, oh, name)
            values = [Signal(name=f"{name}_next_{kind}") for kind in
                      ("open", "hit", "col_c", "act_c", "pre_c", "pre_f", "dir")]
            nopen, nhit, ncol, nact, npre, nforce, ndir = values
            conflict = Signal(name=f"{name}_conflict")
            m.d.comb += [
                nopen.eq(Mux(act_here, 1, Mux(closes, 0, opened))),
                nhit.eq(exists & Mux(act_here, act_hit, Mux(closes, 0, hits))),
                ncol.eq(present & hits & col_time),
                npre.eq(conflict & ~mine),
                nforce.eq(conflict),
                ndir.eq(entry.write == write_mode_next),
            ]
            if lag_free:
                # Last cycle's row commands need not reach the ACT candidate through
                # ``act_here`` / ``closes``, nor the PRE candidate through ``act_here``
                # (``pre_time`` has the closes): an ACT, PRE, PREA or auto-precharge last
                # cycle (a row candidate, or an exact AP load) cleared every bank's ``act``
                # flag (tRC, tRP), and an ACT every bank's ``pre`` flag (tRAS).
                m.d.comb += [
                    conflict.eq(present & opened & ~hits & pre_time),
                    nact.eq(present & ~opened & act_time),
                ]
            else:
                m.d.comb += [
                    conflict.eq(present & nopen & ~nhit & pre_time),
                    nact.eq(present & ~nopen & act_time),
                ]
            return values

        # Last cycle's row commands and auto-precharges reach the queued requests' bank state
        # this cycle, from registers (banks one-hot, the ACT's row): the requests' state lags
        # the banks' by one cycle, which the gates cover (docs/hbm.md). A request entering
        # now takes its state from ``bank_open`` / ``open_row``, which are up to date.
        m.d.sync += [
            act_vec_r.eq(act_vec),
            act_row_r.eq(row_entry.row),
            close_vec_r.eq(pre_vec | ap_vec | Mux(prea_fire, (1 << banks) - 1, 0)),
        ]
        # A request is blocked (no candidate) while an older request to its line, where
        # either is a write, stays in the queue.
        # The request entering now, if it hits, may read or write in its bank next cycle
        # too: no queued request may precharge that bank next cycle. ``pre_gate`` holds
        # every queue PRE then (a cycle's PRE lost at worst; no per-entry bank match).
        new_goes = Signal()
        m.d.comb += new_goes.eq(insert & new_hit & (new.write == write_mode_next))
        states = []
        for k in range(queue_depth):
            act_here = (act_vec_r & bank_oh[k]).any()
            act_hit = act_here & (entries[k].row == act_row_r)
            closes = (close_vec_r & bank_oh[k]).any()
            # (the entries older than a valid one are valid)
            blocked = any_of(~leave[j] & sl(k, j) & (entries[k].write | e.write)
                             for j, e in enumerate(entries[:k]))
            states.append(next_state(f"entry{k}", valid[k], valid[k] & ~blocked, entries[k],
                                     bank_oh[k],
                                     open_r[k], hit_r[k], hit_mine_now[k],
                                     act_here, act_hit, closes))
        new_mine = any_of(hit[j] & same_dir[j] & new_sb[j] for j in range(queue_depth))
        new_blocked = any_of(valid[j] & ~leave[j] & new_sl[j] & (new.write | e.write)
                             for j, e in enumerate(entries))
        # (An ACT of last cycle is in ``bank_open`` already; only ``tRCD`` is to be kept.)
        new_fresh = Signal()
        m.d.comb += new_fresh.eq(act_vec_r.bit_select(new.bank, 1))
        new_state = next_state("new", Const(1), ~new_blocked & ~new_fresh, new, new_oh, new_open,
                               new_hit, new_mine, Const(0), Const(0), Const(0))
        # Next cycle's gates and head-only flag.
        # (The queue's ACT or PRE fires exactly when ``queue_row & row_any``: written so, the
        # gates do not wait for the row pick. PREA and REF need no term: they fire only while
        # refreshing, and while refreshing ``refreshing_next`` is clear only in the cycle
        # after the last REF, when no REF is owed and every bank is closed, so no PREA.)
        row_fired = ((queue_row & row_any) | pb_pre_fire | idle_fire | refpb_fire | auto_pre)
        col_gate = Signal()
        act_gate = Signal()
        pre_gate = Signal()
        head_only_next = Signal()
        m.d.comb += [
            col_gate.eq(~col_fire & ~pre_fire & ~prea_fire & ~refreshing_next),
            act_gate.eq(~row_fired & ~refreshing_next),
            pre_gate.eq(~row_fired & ~col_fire & ~refreshing_next & ~new_goes),
        ]
        if cfg.scheduler == "frfcfs":
            m.d.comb += head_only_next.eq(~(~valid[0] | leave[0]) & (
                starving | (head_wait == cfg.starvation_cap - 1)))
        else:
            m.d.comb += head_only_next.eq(1)
        for i in range(queue_depth):
            nxt = i + 1 if i + 1 < queue_depth else i
            src = [Signal(name=f"src{i}_{kind}") for kind in
                   ("open", "hit", "col_c", "act_c", "pre_c", "pre_f", "dir")]
            with m.If(ins[i]):
                m.d.comb += [a.eq(b) for a, b in zip(src, new_state, strict=True)]
            with m.Elif(shift[i]):
                if i + 1 < queue_depth:
                    m.d.comb += [a.eq(b) for a, b in zip(src, states[nxt], strict=True)]
                # (the last entry empties: its candidates clear)
            with m.Else():
                m.d.comb += [a.eq(b) for a, b in zip(src, states[i], strict=True)]
            s_open, s_hit, s_col, s_act, s_pre, s_force, s_dir = src
            if i == 0:
                direction = head_only_next | s_dir
                row = (s_act & act_gate) | ((s_pre | (head_only_next & s_force)) & pre_gate)
            else:
                direction = ~head_only_next & s_dir
                row = ~head_only_next & ((s_act & act_gate) | (s_pre & pre_gate))
            row_next = Signal(name=f"row_next{i}")
            m.d.comb += row_next.eq(row)
            m.d.sync += [
                open_r[i].eq(s_open),
                hit_r[i].eq(s_hit),
                col_r[i].eq(s_col & col_gate & direction),
                row_r[i].eq(row_next),
                pref_r[i].eq(row_next & (head_only_next | s_dir)),
            ]

        removed_write = Signal()
        removed_read = Signal()
        m.d.comb += [
            removed_write.eq((leave & Cat(*[e.write for e in entries])).any()),
            removed_read.eq((leave & ~Cat(*[e.write for e in entries])).any()),
        ]
        # The counts take an accepted request a cycle later (``inserted_*``, registered):
        # ``insert`` reaches many registers, the counts' adders are not among them. The
        # write mode follows the counts (a policy: a cycle of lag only delays a turn).
        inserted_write = Signal()
        inserted_read = Signal()
        m.d.sync += [
            inserted_write.eq(insert & new.write),
            inserted_read.eq(insert & ~new.write),
        ]
        writes_next = Signal.like(queued_writes)
        reads_next = Signal.like(queued_reads)
        m.d.comb += [
            writes_next.eq(queued_writes + inserted_write - removed_write),
            reads_next.eq(queued_reads + inserted_read - removed_read),
        ]
        m.d.sync += [
            queued_writes.eq(writes_next),
            queued_reads.eq(reads_next),
        ]
        # The write mode: ``write_mode_next`` is the mode of next cycle, a register. The mode
        # turns by the counts of the cycle it is in force, so the mode after it follows from
        # it and next cycle's counts (``writes_next``, ``reads_next``).
        w_none = writes_next == 0
        w_low = writes_next <= cfg.write_low
        w_high = writes_next >= cfg.write_high
        r_none = reads_next == 0
        with m.If(write_mode_next):
            m.d.sync += write_mode_next.eq(~(w_none | (w_low & ~r_none)))
        with m.Else():
            m.d.sync += write_mode_next.eq(w_high | (r_none & ~w_none))
        # ``starving``: set the cycle ``head_wait`` reaches the cap (always set with FCFS).
        m.d.sync += starving.eq(head_only_next)
        with m.If(~valid[0] | leave[0]):
            m.d.sync += head_wait.eq(0)
        with m.Elif(~starving):
            m.d.sync += head_wait.eq(head_wait + 1)

        # -- write data path ----------------------------------------------------------------
        pipe_layout = data.StructLayout({"valid": 1, "slot": slot_w, "burst": burst_w,
                                         "last": 1})
        # wpipe[k]: the WR on the PHY k cycles ago (wpipe[0] is this cycle's).
        wpipe = [Signal(pipe_layout, name=f"wpipe{k}") for k in range(t.CWL + beat_cycles)]
        m.d.comb += [
            wpipe[0].valid.eq(wr_fire),
            wpipe[0].slot.eq(col_entry.slot),
            wpipe[0].burst.eq(col_entry.burst),
            wpipe[0].last.eq(col_last),
        ]
        for k in range(1, len(wpipe)):
            m.d.sync += wpipe[k].eq(wpipe[k - 1])
        fetch = wpipe[t.CWL - 1]
        wdata_r = wdata.read_port()
        m.d.comb += [wdata_r.addr.eq(fetch.slot), wdata_r.en.eq(fetch.valid)]
        write_free = fetch.valid & fetch.last
        beat_bytes = beat_bits // 8
        for j in range(beat_cycles):
            stage = wpipe[t.CWL + j]
            part = stage.burst * beat_cycles + j if bursts > 1 else j
            with m.If(stage.valid):
                m.d.comb += [
                    self.phy.wrdata.valid.eq(1),
                    self.phy.wrdata.data.eq(wdata_r.data.data.word_select(part, beat_bits)),
                    self.phy.wrdata.mask.eq(~wdata_r.data.mask.word_select(part, beat_bytes)),
                ]

        # -- read data path -------------------------------------------------------------------
        m.submodules.inflight = inflight = _HeadFIFO(
            width=len(Cat(Signal(slot_w), Signal(burst_w), Signal())), depth=slots * bursts)
        inflight_head = Signal(pipe_layout)
        # A RD enters the in-flight FIFO a cycle after it issues (from registers: the FIFO's
        # write port is far from the pick); its first beat comes 2 or more cycles after it
        # (``CL >= 2``, checked by ``HBMTiming``).
        inflight_w_en = Signal()
        inflight_w_data = Signal(len(inflight.w_data))
        m.d.sync += [
            inflight_w_en.eq(rd_fire),
            inflight_w_data.eq(Cat(col_entry.slot, col_entry.burst, col_last)),
        ]
        m.d.comb += [
            inflight.w_en.eq(inflight_w_en),
            inflight.w_data.eq(inflight_w_data),
            inflight_head.valid.eq(inflight.r_rdy),
            Cat(inflight_head.slot, inflight_head.burst, inflight_head.last).eq(
                inflight.r_data),
        ]
        rd_beat = Signal(range(max(2, beat_cycles)))
        rd_parts = [Signal(beat_bits, name=f"rd_part{j}") for j in range(beat_cycles - 1)]
        burst_done = Signal()
        rddata = self.phy.rddata
        with m.If(rddata.valid):
            for j, part in enumerate(rd_parts):
                with m.If(rd_beat == j):
                    m.d.sync += part.eq(rddata.data)
            with m.If(rd_beat == beat_cycles - 1):
                m.d.comb += burst_done.eq(1)
                m.d.sync += rd_beat.eq(0)
            with m.Else():
                m.d.sync += rd_beat.eq(rd_beat + 1)
        m.submodules.rdata = rdata = Memory(shape=8 * cfg.line_bytes, depth=slots, init=[])
        burst_bits = 8 * geo.bytes_per_access
        rdata_w = rdata.write_port(granularity=burst_bits)
        full_burst = Cat(*rd_parts, rddata.data)
        m.d.comb += [
            inflight.r_en.eq(burst_done),
            rdata_w.addr.eq(inflight_head.slot),
            rdata_w.data.eq(Cat(*[full_burst] * bursts)),
            rdata_w.en.eq(Mux(burst_done, 1 << inflight_head.burst, 0) if bursts > 1
                          else burst_done),
        ]
        # A line whose last burst lands while nothing waits for ``resp`` goes out in the same
        # cycle (``bypass``): its earlier bursts come from ``rdata_ahead``, read one cycle
        # earlier, the last from the bus. Otherwise its slot joins ``respq``, whose head is
        # read from the line buffer onto ``resp``. A bypassed line that is not taken at once
        # is held like a loaded one: ``rdata_r`` reads it, through the write of its last burst.
        m.submodules.respq = respq = _HeadFIFO(width=slot_w, depth=slots)
        rdata_r = rdata.read_port(transparent_for=(rdata_w,))
        resp_valid = Signal()
        resp_slot = Signal(slot_w)
        load = Signal()
        bypass = Signal()
        line_done = Signal()
        if beat_cycles >= 2:
            # A burst's beats come on consecutive cycles: whether the next beat completes a
            # line is known a beat ahead, and registered, so the bypass decision and the
            # line-buffer read address behind it start from registers.
            line_next = Signal()
            m.d.sync += line_next.eq(rddata.valid & (rd_beat == beat_cycles - 2)
                                     & inflight_head.last)
            m.d.comb += line_done.eq(line_next)
        else:
            m.d.comb += line_done.eq(burst_done & inflight_head.last)
        bypass_data = Signal(8 * cfg.line_bytes)
        if beat_cycles >= 2:
            # The burst before a line's last landed at least beat_cycles cycles before the
            # last beat, so a read one cycle ahead of it holds every earlier burst.
            rdata_ahead = rdata.read_port()
            m.d.comb += [
                rdata_ahead.addr.eq(inflight_head.slot),
                bypass.eq(line_done & ~respq.r_rdy & ~resp_valid),
                bypass_data.eq(Cat(rdata_ahead.data[:burst_bits * (bursts - 1)], full_burst)),
            ]
        m.d.comb += [
            respq.w_en.eq(line_done & ~bypass),
            respq.w_data.eq(inflight_head.slot),
            load.eq(respq.r_rdy & (~resp_valid | self.resp.ready)),
            respq.r_en.eq(load),
            rdata_r.addr.eq(Mux(bypass, inflight_head.slot, respq.r_data)),
            rdata_r.en.eq(load | bypass),
            self.resp.valid.eq(resp_valid | bypass),
            self.resp.payload.data.eq(Mux(bypass, bypass_data, rdata_r.data)),
            self.resp.payload.id.eq(slot_id_array[Mux(bypass, inflight_head.slot, resp_slot)]),
        ]
        with m.If(load):
            m.d.sync += [resp_valid.eq(1), resp_slot.eq(respq.r_data)]
        with m.Elif(bypass & ~self.resp.ready):
            m.d.sync += [resp_valid.eq(1), resp_slot.eq(inflight_head.slot)]
        with m.Elif(self.resp.ready):
            m.d.sync += resp_valid.eq(0)

        # -- slot bookkeeping ---------------------------------------------------------------
        # A slot is released when its response is taken or its write data has been read;
        # the release is registered and reaches ``free`` a cycle later, so that neither
        # ``free`` nor ``req.ready`` waits for ``resp.ready``.
        resp_done = self.resp.valid & self.resp.ready
        out_slot = Mux(bypass, inflight_head.slot, resp_slot)
        released = Signal(slots)
        m.d.sync += released.eq(Mux(resp_done, Const(1, slots) << out_slot, 0)
                                | Mux(write_free, Const(1, slots) << fetch.slot, 0))
        free_next = Signal(slots)
        for s in range(slots):
            taken = insert & (alloc == s)
            with m.If(released[s]):
                m.d.comb += free_next[s].eq(1)
            with m.Elif(taken):
                m.d.comb += free_next[s].eq(0)
            with m.Else():
                m.d.comb += free_next[s].eq(free[s])
        m.d.sync += [free.eq(free_next), ready.eq(~queue_full_next & free_next.any())]

        return m
