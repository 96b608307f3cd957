"""The HBM2/HBM2E pseudo-channel controller.

Structure
---------
``req`` (whole-line requests, :mod:`hdl.hbm.frontend`) is decoded into bank, row and column
(:class:`~hdl.hbm.config.HBMControllerConfig` ``address_map``) and enters a collapsing request
queue of ``queue_depth`` entries, kept in age order (entry 0 is the oldest). Each request
holds one *slot*, a line buffer: a write's data waits there until its bursts go out, a read's
data is assembled there until the response is accepted. A request is not accepted while the
queue or the slots are full, or while it touches the same line as a queued request of which
one is a write: same-address requests are never reordered.

Every cycle the scheduler may issue one row command (ACT, PRE, PREA, REF) and one column
command (RD, WR; one burst), both driven onto the PHY interface (:mod:`hdl.hbm.phy`) in the
cycle they are decided, from registered state only: a request accepted in cycle ``t`` is in
the queue at ``t + 1`` and may have its first RD on the PHY in that cycle.

* **Bank state**: open flag and open row of every bank, and per queue entry registered
  "bank open" and "row hit" flags, updated on insert, queue shift, ACT, PRE, PREA and
  auto-precharge, so that no row comparison sits on the scheduler's paths.
* **Timing**: one down-counter per constraint and scope (bank, bank group, channel), loaded
  with the largest remaining distance when a command issues, each with a registered
  "is zero" flag; a command may issue when all flags that govern it are set, plus a
  four-entry ring of ``tFAW`` windows. ``tRTP_L`` holds a PRE of the bank read, ``tRTP_S``
  a PREA after a RD of any bank.
* **Picks**: one-hot (lowest index = oldest first) priority grants and AND-OR selection of
  the granted entry.
* **FR-FCFS** (``scheduler="frfcfs"``): the column bus takes the oldest queued request of the
  current direction that hits an open row; the row bus serves the oldest request whose bank is
  closed (ACT) or open on another row with no queued hit of the current direction (PRE),
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
names the slot and burst of every returning burst. When the last beat of a line arrives and
no response is waiting, the line goes out on ``resp`` in that same cycle (the earlier bursts
read from the line buffer a cycle ahead, the last from the bus); otherwise its slot joins the
response FIFO, whose head is read out onto ``resp``. Write data is read from the slot
``CWL - 1`` cycles after the WR is on the PHY and driven on ``phy.wrdata`` ``CWL`` cycles
after it.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

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


class _Timers:
    """Down-counters that hold the cycles left before a command is allowed.

    Each counter comes with a registered ``ready`` flag, always equal to ``counter == 0``:
    a load makes the counter at least 1, so the flag is computed for the next cycle as
    "no load now and the counter is at most 1", which keeps the comparison off the
    scheduler's paths.
    """

    def __init__(self):
        self._timers = []
        self._loads = []
        self._ready = []

    def timer(self, name, limit):
        signal = Signal(range(max(2, limit)), name=name)
        self._timers.append(signal)
        self._loads.append([])
        self._ready.append(Signal(name=f"{name}_ready", init=1))
        return signal

    def ready(self, timer):
        """Return the registered flag that is set while ``timer`` is zero."""
        return self._ready[self._index(timer)]

    def _index(self, timer):
        return next(i for i, item in enumerate(self._timers) if item is timer)

    def load(self, timer, cond, cycles):
        """Make ``timer`` allow its command no sooner than ``cycles`` after this cycle."""
        if cycles >= 2:
            self._loads[self._index(timer)].append((cond, cycles - 1))

    def load_value(self, timer, cond, value):
        """Like :meth:`load`, with ``value`` (cycles - 1, at least 1) computed at run time."""
        self._loads[self._index(timer)].append((cond, value))

    def elaborate(self, m):
        for timer, loads, ready in zip(self._timers, self._loads, self._ready, strict=True):
            # The result is the largest of the decremented counter and the active loads.
            # Constant loads are compared with the counter in parallel and chosen by a
            # priority multiplexer, largest first, so the late load conditions pass only
            # through that; loads computed at run time follow, one comparison each.
            count_down = Mux(timer != 0, timer - 1, 0)
            constant = sorted(((cond, cycles) for cond, cycles in loads
                               if isinstance(cycles, int)), key=lambda item: -item[1])
            value = count_down
            for cond, cycles in reversed(constant):
                value = Mux(cond & (count_down < cycles), cycles, value)
            for cond, cycles in loads:
                if not isinstance(cycles, int):
                    value = Mux(cond & (value < cycles), cycles, value)
            m.d.sync += timer.eq(value)
            loaded = Cat(*[cond for cond, _ in loads]).any() if loads else Const(0)
            m.d.sync += ready.eq(~loaded & (timer <= 1))


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
        slot_w = max(1, exact_log2(slots))
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
        entries = [Signal(entry_layout, name=f"entry{i}") for i in range(queue_depth)]
        count = Signal(range(queue_depth + 1))
        valid = [count > i for i in range(queue_depth)]

        # -- bank state ----------------------------------------------------------------
        bank_open = Signal(banks)
        open_row = [Signal(row_w, name=f"open_row{b}") for b in range(banks)]
        open_row_array = Array(open_row)

        # -- timers ----------------------------------------------------------------------
        timers = _Timers()
        longest = max(t.tRFC, t.tRC, wde + t.tWR + t.tRP, wde + t.tWTR_L, t.tRTW, t.tFAW) + 1
        act_t = [timers.timer(f"act_t{b}", longest) for b in range(banks)]
        col_t = [timers.timer(f"col_t{b}", longest) for b in range(banks)]
        pre_t = [timers.timer(f"pre_t{b}", longest) for b in range(banks)]
        act_grp_t = [timers.timer(f"act_grp_t{g}", longest) for g in range(groups)]
        rd_grp_t = [timers.timer(f"rd_grp_t{g}", longest) for g in range(groups)]
        wr_grp_t = [timers.timer(f"wr_grp_t{g}", longest) for g in range(groups)]
        act_all_t = timers.timer("act_all_t", longest)
        prea_t = timers.timer("prea_t", longest)
        rd_all_t = timers.timer("rd_all_t", longest)
        wr_all_t = timers.timer("wr_all_t", longest)
        row_bus_t = timers.timer("row_bus_t", 3)
        faw_t = [timers.timer(f"faw_t{k}", longest) for k in range(4)]
        faw_ptr = Signal(2)

        def zeros(name, items):
            bits = Signal(len(items), name=name)
            m.d.comb += bits.eq(Cat(*[timers.ready(item) for item in items]))
            return bits

        act_ok = zeros("act_ok", act_t)
        col_ok = zeros("col_ok", col_t)
        pre_ok = zeros("pre_ok", pre_t)
        act_grp_ok = zeros("act_grp_ok", act_grp_t)
        rd_grp_ok = zeros("rd_grp_ok", rd_grp_t)
        wr_grp_ok = zeros("wr_grp_ok", wr_grp_t)
        faw_ok = Signal()
        m.d.comb += faw_ok.eq(Array(timers.ready(item) for item in faw_t)[faw_ptr])
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
        write_mode = Signal()
        queued_writes = Signal(range(queue_depth + 1))
        queued_reads = Signal(range(queue_depth + 1))
        head_wait = Signal(range(cfg.starvation_cap + 1))
        starving = Signal()
        head_only = Signal()
        m.d.comb += starving.eq(head_wait == cfg.starvation_cap)
        m.d.comb += head_only.eq(starving if cfg.scheduler == "frfcfs" else 1)

        # -- per-entry candidates --------------------------------------------------------
        # ``open_r[i]`` / ``hit_r[i]``: the bank of queue entry ``i`` is open / open on its
        # row. Registers kept up to date on insert, shift, ACT, PRE, PREA and auto-precharge
        # (see "queue update"), so no row comparison sits on the scheduler's paths.
        open_r = [Signal(name=f"open_r{i}") for i in range(queue_depth)]
        hit_r = [Signal(name=f"hit_r{i}") for i in range(queue_depth)]
        hit, same_dir, is_open = [], [], []
        for i, entry in enumerate(entries):
            opened = Signal(name=f"open{i}")
            h = Signal(name=f"hit{i}")
            d = Signal(name=f"same_dir{i}")
            m.d.comb += [
                opened.eq(valid[i] & open_r[i]),
                h.eq(valid[i] & hit_r[i]),
                d.eq(entry.write == write_mode),
            ]
            hit.append(h)
            same_dir.append(d)
            is_open.append(opened)
        bank_hit_any = Signal(banks)   # any queued request hits (closed-page policy)
        for b in range(banks):
            m.d.comb += bank_hit_any[b].eq(Cat(*[hit[i] & (e.bank == b)
                                                 for i, e in enumerate(entries)]).any())

        # A queued request of the current direction hits the row open in entry i's bank
        # (pairwise bank comparisons of registered entries, not a per-bank table lookup).
        hit_mine_now = Signal(queue_depth)
        for i, entry in enumerate(entries):
            m.d.comb += hit_mine_now[i].eq(Cat(*[
                hit[j] & same_dir[j] & (other.bank == entry.bank)
                for j, other in enumerate(entries)]).any())
        pb_open = Signal()
        m.d.comb += pb_open.eq(bank_open.bit_select(pb_bank, 1))
        col_cand, row_cand, row_pref = [], [], []
        for i, entry in enumerate(entries):
            group = group_of(entry.bank)
            allowed = (~refreshing & (1 if i == 0 else ~head_only)
                       & ~(pb_force & (entry.bank == pb_bank)))
            direction = head_only | same_dir[i]
            col_time = col_ok.bit_select(entry.bank, 1) & Mux(
                entry.write,
                wr_grp_ok.bit_select(group, 1) & timers.ready(wr_all_t),
                rd_grp_ok.bit_select(group, 1) & timers.ready(rd_all_t))
            act_time = (act_ok.bit_select(entry.bank, 1) & act_grp_ok.bit_select(group, 1)
                        & timers.ready(act_all_t) & faw_ok & row_bus_ok)
            pre_time = pre_ok.bit_select(entry.bank, 1) & row_bus_ok
            c = Signal(name=f"col_cand{i}")
            r = Signal(name=f"row_cand{i}")
            p = Signal(name=f"row_pref{i}")
            m.d.comb += [
                c.eq(allowed & hit[i] & col_time & direction),
                r.eq(allowed & valid[i] & (
                    (~is_open[i] & act_time)
                    | (is_open[i] & ~hit[i] & pre_time
                       & (head_only | ~hit_mine_now[i])))),
                p.eq(r & direction),
            ]
            col_cand.append(c)
            row_cand.append(r)
            row_pref.append(p)

        col_fire, col_grant = _pick(m, col_cand, "col")
        col_entry = _select(m, col_grant, entries, entry_layout, "col_entry")
        # Another queued request hits the row of the column command's bank.
        other_hit = Signal()
        m.d.comb += other_hit.eq(Cat(*[
            hit[i] & (e.bank == col_entry.bank) & ~col_grant[i]
            for i, e in enumerate(entries)]).any())
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
        idle_any, idle_bank = _first(m, list(idle_pre), "idle_pre")

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
        act_fire = Signal()
        pre_fire = Signal()
        prea_fire = Signal()
        ref_fire = Signal()
        refpb_fire = Signal()
        row_bank = Signal(bank_w)
        with m.If(refreshing):
            m.d.comb += [prea_fire.eq(prea_ready), ref_fire.eq(ref_ready)]
        with m.Elif(refpb_ready):
            m.d.comb += [refpb_fire.eq(1), row_bank.eq(pb_bank)]
        with m.Elif(pb_pre_ready):
            m.d.comb += [pre_fire.eq(1), row_bank.eq(pb_bank)]
        with m.Elif(row_any):
            m.d.comb += row_bank.eq(row_entry.bank)
            with m.If(bank_open.bit_select(row_entry.bank, 1)):
                m.d.comb += pre_fire.eq(1)
            with m.Else():
                m.d.comb += act_fire.eq(1)
        with m.Elif(idle_any):
            m.d.comb += [row_bank.eq(idle_bank), pre_fire.eq(1)]

        # Commands are driven onto the PHY in the cycle they are decided (the PHY registers
        # them, as a DFI PHY does); they depend on registered state only.
        row_group = group_of(row_bank)
        m.d.comb += [
            self.phy.row_cmd.bank.eq(row_bank),
            self.phy.row_cmd.row.eq(row_entry.row),
        ]
        with m.If(act_fire):
            m.d.comb += self.phy.row_cmd.cmd.eq(RowCommand.ACT)
            m.d.sync += [
                bank_open.bit_select(row_bank, 1).eq(1),
                open_row_array[row_bank].eq(row_entry.row),
                faw_ptr.eq(faw_ptr + 1),
            ]
        with m.If(pre_fire):
            m.d.comb += self.phy.row_cmd.cmd.eq(RowCommand.PRE)
            m.d.sync += bank_open.bit_select(row_bank, 1).eq(0)
        with m.If(prea_fire):
            m.d.comb += self.phy.row_cmd.cmd.eq(RowCommand.PREA)
            m.d.sync += bank_open.eq(0)
        with m.If(ref_fire):
            m.d.comb += self.phy.row_cmd.cmd.eq(RowCommand.REF)
        with m.If(refpb_fire):
            m.d.comb += self.phy.row_cmd.cmd.eq(RowCommand.REFPB)
            m.d.sync += pb_bank.eq(pb_bank + 1)

        # -- decide the column command ---------------------------------------------------------
        col_last = Signal()
        m.d.comb += col_last.eq(col_entry.burst == bursts - 1 if bursts > 1 else 1)
        rd_fire = Signal()
        wr_fire = Signal()
        m.d.comb += [rd_fire.eq(col_fire & ~col_entry.write),
                     wr_fire.eq(col_fire & col_entry.write)]
        col_group = group_of(col_entry.bank)
        column = Cat(col_entry.burst, col_entry.col) if bursts > 1 else col_entry.col
        auto_pre = Signal()
        if cfg.auto_precharge:
            m.d.comb += auto_pre.eq(col_fire & col_last & ~other_hit)
        else:
            m.d.comb += auto_pre.eq(0)
        # One whole-bus assignment: a constant ``ap`` on its own would be written out as a
        # sensitivity-less ``always @*`` that never runs in Icarus.
        col_word = Signal.like(self.phy.col_cmd)
        m.d.comb += [
            col_word.bank.eq(col_entry.bank),
            col_word.col.eq(column),
            col_word.ap.eq(auto_pre),
            col_word.cmd.eq(Mux(col_fire, Mux(col_entry.write, ColCommand.WR, ColCommand.RD),
                                ColCommand.NOP)),
            self.phy.col_cmd.eq(col_word),
        ]
        with m.If(auto_pre):
            m.d.sync += bank_open.bit_select(col_entry.bank, 1).eq(0)

        # -- timer loads -------------------------------------------------------------------------
        for b in range(banks):
            this_act = act_fire & (row_bank == b)
            this_pre = (pre_fire & (row_bank == b)) | prea_fire
            timers.load(act_t[b], this_act, t.tRC)
            timers.load(act_t[b], this_pre, t.tRP)
            timers.load(act_t[b], ref_fire, t.tRFC)
            timers.load(act_t[b], refpb_fire & (pb_bank == b), t.tRFCpb)
            timers.load(col_t[b], this_act, t.tRCD)
            timers.load(pre_t[b], this_act, t.tRAS)
            timers.load(pre_t[b], wr_fire & (col_entry.bank == b), wde + t.tWR)
            timers.load(pre_t[b], rd_fire & (col_entry.bank == b), t.tRTP_L)
            if cfg.auto_precharge:
                # ACT no sooner than tRP after the internal precharge (see the docstring).
                own = Mux(col_entry.write, wde + t.tWR, t.tRTP_L)
                start = Mux(pre_t[b] > own, pre_t[b], own)
                timers.load_value(act_t[b], auto_pre & (col_entry.bank == b),
                                  start + (t.tRP - 1))
        for g in range(groups):
            same_row_group = row_group == g
            same_col_group = col_group == g
            timers.load(act_grp_t[g], act_fire & same_row_group, t.tRRD_L)
            timers.load(rd_grp_t[g], rd_fire & same_col_group, t.tCCD_L)
            timers.load(rd_grp_t[g], wr_fire & same_col_group, wde + t.tWTR_L)
            timers.load(wr_grp_t[g], wr_fire & same_col_group, t.tCCD_L)
        timers.load(act_all_t, act_fire, t.tRRD_S)
        timers.load(act_all_t, refpb_fire, t.tRREFD)
        timers.load(prea_t, rd_fire, t.tRTP_S)
        timers.load(rd_all_t, rd_fire, t.tCCD_S)
        timers.load(rd_all_t, wr_fire, wde + t.tWTR_S)
        timers.load(wr_all_t, wr_fire, t.tCCD_S)
        timers.load(wr_all_t, rd_fire, t.tRTW)
        timers.load(row_bus_t, act_fire, 2)
        for k in range(4):
            timers.load(faw_t[k], act_fire & (faw_ptr == k), t.tFAW)
        timers.elaborate(m)

        # -- refresh state -----------------------------------------------------------------------
        owed_next = Signal.like(owed)
        m.d.comb += owed_next.eq(owed + refi_tick - ref_fire - refpb_fire)
        m.d.sync += owed.eq(owed_next)
        if not per_bank:
            want_refresh = (owed >= cfg.refresh_postpone) | ((owed != 0) & (count == 0))
            m.d.sync += refreshing.eq(Mux(refreshing, owed_next != 0, want_refresh))

        # -- accept requests ---------------------------------------------------------------------
        free = Signal(slots, init=(1 << slots) - 1)
        slot_free, alloc = _first(m, list(free), "alloc")
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
        hazard = Signal()
        m.d.comb += hazard.eq(Cat(*[
            valid[i] & (e.bank == new.bank) & (e.row == new.row) & (e.col == new.col)
            & (e.write | new.write) for i, e in enumerate(entries)]).any())
        m.d.comb += self.req.ready.eq((count < queue_depth) & slot_free & ~hazard)
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
        remove = Signal()
        m.d.comb += remove.eq(col_fire & col_last)
        insert_at = Signal(range(queue_depth + 1))
        m.d.comb += insert_at.eq(count - remove)
        m.d.sync += count.eq(count + insert - remove)
        for i in range(queue_depth):
            shift = remove & col_grant[:i + 1].any()
            with m.If(insert & (insert_at == i)):
                m.d.sync += entries[i].eq(new)
            with m.Elif(shift):
                if i + 1 < queue_depth:
                    m.d.sync += entries[i].eq(entries[i + 1])
            with m.Elif(col_grant[i]):
                m.d.sync += entries[i].burst.eq(entries[i].burst + 1)

        # The bank state of each entry next cycle: that of the request that will be there
        # (new, the next one moving up, or the same), after this cycle's row commands.
        new_open = Signal()
        new_hit = Signal()
        m.d.comb += [
            new_open.eq(bank_open.bit_select(new.bank, 1)),
            new_hit.eq(new_open & (open_row_array[new.bank] == new.row)),
        ]
        closed_col_bank = Signal()
        m.d.comb += closed_col_bank.eq(auto_pre)
        for i in range(queue_depth):
            nxt = i + 1 if i + 1 < queue_depth else i
            src = Signal(entry_layout, name=f"next_entry{i}")
            src_open = Signal(name=f"next_open{i}")
            src_hit = Signal(name=f"next_hit{i}")
            with m.If(insert & (insert_at == i)):
                m.d.comb += [src.eq(new), src_open.eq(new_open), src_hit.eq(new_hit)]
            with m.Elif(remove & col_grant[:i + 1].any()):
                m.d.comb += [src.eq(entries[nxt]), src_open.eq(open_r[nxt]),
                             src_hit.eq(hit_r[nxt])]
            with m.Else():
                m.d.comb += [src.eq(entries[i]), src_open.eq(open_r[i]),
                             src_hit.eq(hit_r[i])]
            row_bank_here = src.bank == row_bank
            closes = (prea_fire | (pre_fire & row_bank_here)
                      | (closed_col_bank & (src.bank == col_entry.bank)))
            with m.If(act_fire & row_bank_here):
                m.d.sync += [open_r[i].eq(1), hit_r[i].eq(src.row == row_entry.row)]
            with m.Elif(closes):
                m.d.sync += [open_r[i].eq(0), hit_r[i].eq(0)]
            with m.Else():
                m.d.sync += [open_r[i].eq(src_open), hit_r[i].eq(src_hit)]

        removed_write = remove & col_entry.write
        removed_read = remove & ~col_entry.write
        m.d.sync += [
            queued_writes.eq(queued_writes + (insert & new.write) - removed_write),
            queued_reads.eq(queued_reads + (insert & ~new.write) - removed_read),
        ]
        with m.If(write_mode):
            with m.If((queued_writes == 0)
                      | ((queued_writes <= cfg.write_low) & (queued_reads != 0))):
                m.d.sync += write_mode.eq(0)
        with m.Else():
            with m.If((queued_writes >= cfg.write_high)
                      | ((queued_reads == 0) & (queued_writes != 0))):
                m.d.sync += write_mode.eq(1)
        with m.If((count == 0) | (remove & col_grant[0])):
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
        m.submodules.inflight = inflight = SyncFIFO(
            width=len(Cat(Signal(slot_w), Signal(burst_w), Signal())), depth=slots * bursts)
        inflight_head = Signal(pipe_layout)
        m.d.comb += [
            inflight.w_en.eq(rd_fire),
            inflight.w_data.eq(Cat(col_entry.slot, col_entry.burst, col_last)),
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
        m.submodules.respq = respq = SyncFIFO(width=slot_w, depth=slots)
        rdata_r = rdata.read_port(transparent_for=(rdata_w,))
        resp_valid = Signal()
        resp_slot = Signal(slot_w)
        load = Signal()
        bypass = Signal()
        line_done = Signal()
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
        resp_done = self.resp.valid & self.resp.ready
        for s in range(slots):
            taken = insert & (alloc == s)
            out_slot = Mux(bypass, inflight_head.slot, resp_slot)
            released = (resp_done & (out_slot == s)) | (write_free & (fetch.slot == s))
            with m.If(released):
                m.d.sync += free[s].eq(1)
            with m.Elif(taken):
                m.d.sync += free[s].eq(0)

        return m
