"""The floating-point systolic tensor core: BF16, FP16, TF32, TF32+ and FP32, FP32 accumulate;
INT8 (INT32 accumulate) in the same processing elements.

The same output-stationary dataflow as the INT8 core (:mod:`hdl.tensor.core`): A enters from the
west, one row per array row through ``i`` skew registers, B from the north through ``j`` skew
registers, and a valid bit and the tile's flags travel with A, so bubbles cost time only and
the array never stalls. The arithmetic is numpy float32 arithmetic, bit for bit
(:mod:`hdl.tensor.fp`, :mod:`verif.models.fp`).

Interleaved accumulation
------------------------
The FP32 adder takes ``add_stages`` cycles, and a dot product must be summed in K order with
one rounding per add, so one accumulator can take a new product only every ``add_stages``
cycles. To keep every processing element (PE) busy on every cycle, a tile interleaves
``L = add_stages`` independent row blocks: the C tile is ``L * rows`` x ``cols``, and for each
K step ``k`` the ``a`` stream carries ``L`` beats, column ``k`` of row block 0, 1, ..., L-1
(``A[t * rows + i, k]`` for ``i`` in ``0 .. rows-1``), while one ``b`` beat (row ``k`` of B)
is held for those ``L`` beats and accepted with the last of them. Each PE keeps ``L``
accumulator slots; the adder's result for block ``t`` comes back exactly when block ``t``'s
next product arrives (a bypass), or, after bubbles, from the slot. The cost: a tile of ``K``
K steps takes ``L * K`` beats for ``L * rows * cols * K`` MACs, so the array still does
``rows * cols`` MAC per cycle; the C tile is ``L`` times taller than the array.

The ``b`` beat carries the K step's ``precision`` (a :class:`Precision`; normally the same for
a whole tile) and ``last`` on the tile's final K step. Operands are decoded at the array's edge
into the internal format (:func:`hdl.tensor.fp.internal_layout`), so PEs hold one FP32-range
multiplier as wide as the widest built-in significand and one FP32 adder.

INT8
----
With ``int8`` built in, a K step whose ``precision`` is INT8 carries ``int8_macs_per_pe`` INT8
K indices per operand element (lane ``kk`` in bits ``8 kk .. 8 kk + 7``). The first lane
shares the significand multiplier (a signed multiplier one bit wider than the significand),
the second has its own; their 17-bit dot product is added to the block's slot by a 32-bit
integer adder in one cycle (wrapping modulo 2^32), bypassing the FP32 adder, so INT8 results
come ``add_stages`` cycles earlier. A tile's K steps must be all INT8 or all floating point;
a mixed tile is a protocol error whose values are unspecified (it still produces one tile of
rows, and later tiles are unaffected).

Timing
------
With every stream valid and ready a tile of ``K`` K steps takes ``L * K + fill + L * rows - 1``
cycles (:meth:`FPTensorCoreConfig.tile_cycles`), with ``fill = rows + cols + mul_stages +
add_stages``. Back-to-back tiles overlap through the double-buffered result bank (``L`` result
registers per PE) and never stall for ``K >= FPTensorCoreConfig.min_k_per_tile()``.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .fp import NEG_ZERO, decode_pe_operand, fp_add, fp_multiply, pe_operand_layout
from .fp_config import FPTensorCoreConfig, Precision
from .skew import skew

__all__ = ["FPTensorCore", "fp_operand_layouts", "fp_result_layout"]


def fp_operand_layouts(config):
    """Return the payload layouts of the ``a`` and ``b`` operand streams.

    ``a.data[i]`` is ``A[t * rows + i, k]`` for the ``t``-th beat of K step ``k``;
    ``b.data[j]`` is ``B[k, j]``, ``b.precision`` the K step's format and ``b.last`` marks the
    tile's last K step. Operands are bit patterns, right-aligned in ``operand_width`` bits.
    """
    element = config.operand_width
    a_layout = data.StructLayout({"data": data.ArrayLayout(element, config.rows)})
    b_layout = data.StructLayout({
        "data": data.ArrayLayout(element, config.cols),
        "precision": Precision,
        "last": 1,
    })
    return a_layout, b_layout


def fp_result_layout(config):
    """Return the payload layout of the ``c`` result stream: one row of FP32 patterns a beat."""
    return data.StructLayout({
        "data": data.ArrayLayout(32, config.cols),
        "row": config.row_index_width,
        "last": 1,
    })


class FPTensorCore(wiring.Component):
    """Output-stationary floating-point systolic tensor core with FP32 accumulation.

    Parameters
    ----------
    config : FPTensorCoreConfig
        Array size, built-in formats and pipeline depths.

    Attributes
    ----------
    a : In(stream.Signature(...))
        Columns of A, ``interleave`` beats per K step (one per row block).
    b : In(stream.Signature(...))
        Rows of B with the K step's ``precision`` and ``last``; accepted with the last ``a``
        beat of its K step.
    c : Out(stream.Signature(...))
        Rows of the finished ``interleave * rows`` x ``cols`` tile as FP32 patterns, ``row`` 0
        first, ``last`` on the final row.
    """

    def __init__(self, *, config=None):
        if config is None:
            config = FPTensorCoreConfig()
        if not isinstance(config, FPTensorCoreConfig):
            self._MustUse__silence = True  # a rejected component is not "unused"
            raise TypeError(f"config must be an FPTensorCoreConfig, not {config!r}")
        self._config = config
        a_layout, b_layout = fp_operand_layouts(config)
        super().__init__({
            "a": In(stream.Signature(a_layout)),
            "b": In(stream.Signature(b_layout)),
            "c": Out(stream.Signature(fp_result_layout(config))),
        })

    @property
    def config(self):
        """The tensor core's configuration."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        rows, cols, blocks = cfg.rows, cfg.cols, cfg.interleave
        width = cfg.significand_width
        lanes = cfg.int8_lanes
        operand = pe_operand_layout(width, lanes)

        def beat_phase(valid, name):
            """Return ``(count, count_next)``: a counter of ``valid`` beats modulo ``blocks``
            (its value before the beat) and its value in the next cycle."""
            if blocks == 1:
                return Const(0, 1), Const(0, 1)
            count = Signal(range(blocks), name=name)
            count_next = Signal(range(blocks), name=f"{name}_next")
            m.d.comb += count_next.eq(Mux(valid, Mux(count == blocks - 1, 0, count + 1), count))
            m.d.sync += count.eq(count_next)
            return count, count_next

        # Handshake. `phase` counts the beats of a K step; b is accepted with the last one.
        # The first beat of a tile's last K step waits while the previous tile still occupies
        # the result bank.
        fire = Signal()
        phase, _ = beat_phase(fire, "phase")
        final_phase = phase == blocks - 1
        bank_pending = Signal()
        first_step = Signal(init=1)
        last_step = self.b.payload.last
        blocked = last_step & (phase == 0) & bank_pending
        m.d.comb += [
            fire.eq(self.a.valid & self.b.valid & ~blocked),
            self.a.ready.eq(self.b.valid & ~blocked),
            self.b.ready.eq(self.a.valid & ~blocked & final_phase),
        ]
        with m.If(fire & final_phase):
            m.d.sync += first_step.eq(last_step)

        # Decode at the edge, then skew: row i of A by i cycles, column j of B by j cycles.
        precision = self.b.payload.precision

        decode = {"significand_width": width, "precisions": cfg.float_precisions,
                  "int8_lanes": lanes}
        int_step = precision == Precision.INT8
        west = []
        for i in range(rows):
            decoded = decode_pe_operand(m, self.a.payload.data[i], precision, **decode,
                                        name=f"dec_a{i}")
            west.append({
                "operand": skew(m, decoded, i, name=f"a{i}", shape=operand),
                "valid": skew(m, fire, i, name=f"a{i}_valid", reset_less=False),
                "first": skew(m, first_step, i, name=f"a{i}_first"),
                "last": skew(m, last_step, i, name=f"a{i}_last"),
            })
            if lanes:
                west[i]["int"] = skew(m, int_step, i, name=f"a{i}_int")
        north = []
        for j in range(cols):
            decoded = decode_pe_operand(m, self.b.payload.data[j], precision, **decode,
                                        name=f"dec_b{j}")
            north.append(skew(m, decoded, j, name=f"b{j}", shape=operand))

        # The processing elements.
        results = [[None] * cols for _ in range(rows)]
        done = Signal()
        for i in range(rows):
            a_in = west[i]
            for j in range(cols):
                pe = f"pe{i}_{j}"
                a_reg = Signal(operand, name=f"{pe}_a", reset_less=True)
                b_reg = Signal(operand, name=f"{pe}_b", reset_less=True)
                flags = {
                    "valid": Signal(name=f"{pe}_valid"),
                    "first": Signal(name=f"{pe}_first", reset_less=True),
                    "last": Signal(name=f"{pe}_last", reset_less=True),
                }
                if lanes:
                    flags["int"] = Signal(name=f"{pe}_int", reset_less=True)
                m.d.sync += [a_reg.eq(a_in["operand"]), b_reg.eq(north[j])]
                m.d.sync += [flags[k].eq(a_in[k]) for k in flags]

                product, prod = fp_multiply(
                    m, a_reg.fp, b_reg.fp, significand_width=width, stages=cfg.mul_stages,
                    name=f"{pe}_mul", sideband=flags, control={"valid"},
                    int8=(a_reg.int8, b_reg.int8, flags["int"]) if lanes else None)

                # Accumulate: block `phase`'s running sum comes from the adder's output when
                # it is that block's turn (no bubble since), else from the block's slot.
                slots = [Signal(32, name=f"{pe}_acc{t}", reset_less=True)
                         for t in range(blocks)]
                results[i][j] = [Signal(32, name=f"{pe}_result{t}", reset_less=True)
                                 for t in range(blocks)]
                addend = Signal(32, name=f"{pe}_addend")
                fp_keys = ("valid", "last", "int") if lanes else ("valid", "last")
                total, out = fp_add(
                    m, addend, product, stages=cfg.add_stages, name=f"{pe}_add",
                    sideband={k: prod[k] for k in fp_keys}, control={"valid"})
                # Block ``phase`` of a product and of a sum: every K step has ``blocks``
                # beats, so it is the count of valid beats at that stage modulo ``blocks``,
                # as at the edge. Counted in each PE (a counter per stage) instead of carried
                # with the data: carried, the phase registers of all PEs on an anti-diagonal
                # are identical and Yosys merges them into one, whose fan-out spans the array
                # and sat on the critical path (the slot multiplexer's select).
                prod["phase"], prod_phase_next = beat_phase(prod["valid"], f"{pe}_prod_phase")
                out["phase"], _ = beat_phase(out["valid"], f"{pe}_sum_phase")
                # The adder's output is block `phase`'s sum exactly when the last `blocks`
                # products were all valid (phases cycle), so `bypass` is a register: set when
                # this cycle's product is valid and so were the ``blocks - 1`` before it
                # (``run``, the valid products in a row, saturating), computed a cycle early.
                # A counter in each PE, like the phases: a shift register of the valid bits
                # would be merged by Yosys across an anti-diagonal of PEs.
                bypass = Signal(name=f"{pe}_bypass")
                if blocks > 1:
                    run = Signal(range(blocks), name=f"{pe}_run")
                    with m.If(~prod["valid"]):
                        m.d.sync += run.eq(0)
                    with m.Elif(run != blocks - 1):
                        m.d.sync += run.eq(run + 1)
                    m.d.sync += bypass.eq(prod["valid"] & (run == blocks - 1))
                else:
                    m.d.sync += bypass.eq(prod["valid"])
                # ``slot``: block ``phase``'s slot, read a cycle ahead into a register (see
                # below), so that no slot multiplexer sits in the accumulation loop.
                slot = Signal(32, name=f"{pe}_slot", reset_less=True) if blocks > 1 else slots[0]
                m.d.comb += addend.eq(Mux(prod["first"], NEG_ZERO, Mux(bypass, total, slot)))
                slot_we = [Signal(name=f"{pe}_slot_we{t}") for t in range(blocks)]
                slot_wdata = Signal(32, name=f"{pe}_slot_wdata")
                if not lanes:
                    m.d.comb += slot_wdata.eq(total)
                    for t in range(blocks):
                        m.d.comb += slot_we[t].eq(out["valid"] & (out["phase"] == t))
                        with m.If(slot_we[t]):
                            m.d.sync += slots[t].eq(slot_wdata)
                            with m.If(out["last"]):
                                m.d.sync += results[i][j][t].eq(total)
                    tile_done = out["valid"] & out["last"] & (out["phase"] == blocks - 1)
                else:
                    # INT8: a one-cycle INT32 sum (no adder loop: block `phase`'s previous sum
                    # is in its slot, at least `blocks` cycles old). Slots and result registers
                    # each take one shared value (a 2:1 multiplexer per PE, clock enables per
                    # register). An INT8 slot write and an FP one never meet in a legal
                    # stream: FP writes slots only before a tile's last step, and a tile's
                    # last step is written to the result bank only once the previous tile
                    # has left it. In a tile that mixes INT8 and FP steps (a protocol error)
                    # the INT8 write wins.
                    int_sum = Signal(32, name=f"{pe}_int_sum")
                    m.d.comb += int_sum.eq(Mux(prod["first"], 0, slot) + prod["int_product"])
                    int_valid = prod["valid"] & prod["int"]
                    fp_valid = out["valid"] & ~out["int"]
                    slot_value = Signal(32, name=f"{pe}_slot_value")
                    result_value = Signal(32, name=f"{pe}_result_value")
                    m.d.comb += [slot_value.eq(Mux(int_valid, int_sum, total)),
                                 result_value.eq(Mux(fp_valid, total, int_sum))]
                    m.d.comb += slot_wdata.eq(slot_value)
                    for t in range(blocks):
                        fp_here = fp_valid & (out["phase"] == t)
                        int_here = int_valid & (prod["phase"] == t)
                        m.d.comb += slot_we[t].eq(int_here | (fp_here & ~out["last"]))
                        with m.If(slot_we[t]):
                            m.d.sync += slots[t].eq(slot_wdata)
                        with m.If((int_here & prod["last"]) | (fp_here & out["last"])):
                            m.d.sync += results[i][j][t].eq(result_value)
                    tile_done = ((fp_valid & out["last"] & (out["phase"] == blocks - 1))
                                 | (int_valid & prod["last"] & (prod["phase"] == blocks - 1)))
                if blocks > 1:
                    # Next cycle's block is ``prod_phase_next``; its slot's value then is this
                    # cycle's write to it, if any, else its present value.
                    m.d.sync += slot.eq(Mux(Array(slot_we)[prod_phase_next], slot_wdata,
                                            Array(slots)[prod_phase_next]))
                if i == rows - 1 and j == cols - 1:
                    m.d.comb += done.eq(tile_done)

                a_in = {"operand": a_reg} | flags
                north[j] = b_reg

        # Drain the result bank, one row per beat: row t * rows + i is block t's row i.
        tile_rows = cfg.tile_rows
        draining = Signal()
        row = Signal(cfg.row_index_width)
        bank_rows = Array(Cat(*(results[i][j][t] for j in range(cols)))
                          for t in range(blocks) for i in range(rows))
        m.d.comb += [
            self.c.valid.eq(draining),
            self.c.payload.data.eq(bank_rows[row]),
            self.c.payload.row.eq(row),
            self.c.payload.last.eq(row == tile_rows - 1),
        ]
        drained = Signal()
        m.d.comb += drained.eq(self.c.valid & self.c.ready & (row == tile_rows - 1))
        with m.If(done):
            m.d.sync += draining.eq(1)
        with m.If(self.c.valid & self.c.ready):
            m.d.sync += row.eq(Mux(row == tile_rows - 1, 0, row + 1))
            with m.If(row == tile_rows - 1):
                m.d.sync += draining.eq(0)
        with m.If(fire & last_step & (phase == 0)):
            m.d.sync += bank_pending.eq(1)
        with m.Elif(drained):
            m.d.sync += bank_pending.eq(0)

        return m
