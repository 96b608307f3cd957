"""The INT8 systolic tensor core.

An output-stationary ``rows x cols`` array of processing elements (PEs) computes one tile
``C[rows x cols] = A[rows x K] . B[K x cols]`` with K streamed, one K step (or ``k_per_beat`` K
steps) per operand beat.

Dataflow
--------
Operand beat ``k`` carries column ``k`` of A (``rows`` values) on the ``a`` stream and row ``k``
of B (``cols`` values) on the ``b`` stream; both streams hand over together. Row ``i`` of A enters
the array through ``i`` skew registers and travels right; column ``j`` of B enters through ``j``
skew registers and travels down, so that ``A[i, k]`` and ``B[k, j]`` meet in PE ``(i, j)``.
A valid bit and the tile's ``last`` flag travel with A, so bubbles (cycles without a handshake)
cost nothing but time and the array never stalls.

Each PE is three registers deep: the operand registers, the product register and the
accumulator. A beat flagged ``last`` copies the finished sum into the PE's result register and
restarts the accumulator, so the next tile accumulates while this one drains: the accumulator
bank is double-buffered (accumulator + result register). When the last PE (bottom right) has
captured its result, the result bank drains on the ``c`` stream, one row of C per beat.

Timing
------
With every stream valid and ready, a tile of ``n`` beats takes ``n + rows + cols + rows``
cycles from the first operand handshake to the last result handshake inclusive
(:meth:`TensorCoreConfig.tile_cycles`). Back-to-back tiles overlap: the operand streams stall
only when a tile's last beat would arrive while the previous tile is still in the result bank,
which cannot happen for tiles of at least ``2 * rows + cols + 1`` beats.

Arithmetic
----------
Products are exact (16 bits, or 17 for two INT8 MACs per PE). The accumulator is 32 bits and
wraps as two's complement on overflow, like ``numpy.int32`` arithmetic.
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import TensorCoreConfig
from .skew import skew

__all__ = ["TensorCore", "operand_layouts", "result_layout"]


def _operand_shape(config):
    return signed(config.operand_width) if config.signed else unsigned(config.operand_width)


def _acc_shape(config):
    return signed(config.acc_width) if config.signed else unsigned(config.acc_width)


def operand_layouts(config):
    """Return the payload layouts of the ``a`` and ``b`` operand streams.

    ``a.data[i][kk]`` is ``A[i, k + kk]`` and ``b.data[j][kk]`` is ``B[k + kk, j]`` for the
    beat that carries K indices ``k .. k + k_per_beat - 1``. ``a.last`` marks a tile's last
    beat.
    """
    element = data.ArrayLayout(_operand_shape(config), config.k_per_beat)
    a_layout = data.StructLayout({
        "data": data.ArrayLayout(element, config.rows),
        "last": 1,
    })
    b_layout = data.StructLayout({
        "data": data.ArrayLayout(element, config.cols),
    })
    return a_layout, b_layout


def result_layout(config):
    """Return the payload layout of the ``c`` result stream (one row of C per beat)."""
    return data.StructLayout({
        "data": data.ArrayLayout(_acc_shape(config), config.cols),
        "row": unsigned(config.row_index_width),
        "last": 1,
    })


class TensorCore(wiring.Component):
    """Output-stationary INT8 systolic tensor core with a double-buffered accumulator bank.

    Parameters
    ----------
    config : TensorCoreConfig
        Array size, K steps per beat and signedness.

    Attributes
    ----------
    a : In(stream.Signature(...))
        Column vectors of A, with ``last`` on a tile's final beat. Hands over together with
        ``b``.
    b : In(stream.Signature(...))
        Row vectors of B.
    c : Out(stream.Signature(...))
        Rows of the finished tile, ``row`` 0 first; ``last`` on the final row.
    """

    def __init__(self, *, config=None):
        if config is None:
            config = TensorCoreConfig()
        if not isinstance(config, TensorCoreConfig):
            self._MustUse__silence = True  # a rejected component is not "unused"
            raise TypeError(f"config must be a TensorCoreConfig, not {config!r}")
        self._config = config
        a_layout, b_layout = operand_layouts(config)
        super().__init__({
            "a": In(stream.Signature(a_layout)),
            "b": In(stream.Signature(b_layout)),
            "c": Out(stream.Signature(result_layout(config))),
        })

    @property
    def config(self):
        """The tensor core's configuration."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        rows, cols, kpb = cfg.rows, cfg.cols, cfg.k_per_beat
        operand = _operand_shape(cfg)
        acc_shape = _acc_shape(cfg)
        product_width = 2 * cfg.operand_width + (kpb - 1) + (0 if cfg.signed else 0)
        product_shape = signed(product_width) if cfg.signed else unsigned(product_width)

        # Handshake: both operand streams hand over together. A tile's last beat waits while
        # the previous tile still occupies the result bank.
        bank_pending = Signal()
        blocked = self.a.payload.last & bank_pending
        m.d.comb += [
            self.a.ready.eq(self.b.valid & ~blocked),
            self.b.ready.eq(self.a.valid & ~blocked),
        ]
        fire = Signal()
        m.d.comb += fire.eq(self.a.valid & self.b.valid & ~blocked)

        # Skew registers: row i of A is delayed by i cycles, column j of B by j cycles.
        a_vec = data.ArrayLayout(operand, kpb)
        west = []   # (data, valid, last) entering each row
        for i in range(rows):
            west.append((
                skew(m, self.a.payload.data[i], i, name=f"a{i}", shape=a_vec),
                skew(m, fire, i, name=f"a{i}_valid", reset_less=False),
                skew(m, self.a.payload.last, i, name=f"a{i}_last", reset_less=False),
            ))
        north = [skew(m, self.b.payload.data[j], j, name=f"b{j}", shape=a_vec)
                 for j in range(cols)]

        # The processing elements.
        results = [[None] * cols for _ in range(rows)]
        done = Signal()
        for i in range(rows):
            a_in, valid_in, last_in = west[i]
            for j in range(cols):
                b_in = north[j]
                a_reg = Signal(a_vec, name=f"pe{i}_{j}_a", reset_less=True)
                b_reg = Signal(a_vec, name=f"pe{i}_{j}_b", reset_less=True)
                valid = Signal(name=f"pe{i}_{j}_valid")
                last = Signal(name=f"pe{i}_{j}_last")
                m.d.sync += [
                    a_reg.eq(a_in), b_reg.eq(b_in),
                    valid.eq(valid_in), last.eq(last_in & valid_in),
                ]

                product = Signal(product_shape, name=f"pe{i}_{j}_product", reset_less=True)
                product_valid = Signal(name=f"pe{i}_{j}_product_valid")
                product_last = Signal(name=f"pe{i}_{j}_product_last")
                dot = sum(a_reg[kk] * b_reg[kk] for kk in range(kpb))
                m.d.sync += [
                    product.eq(dot),
                    product_valid.eq(valid),
                    product_last.eq(last),
                ]

                acc = Signal(acc_shape, name=f"pe{i}_{j}_acc", reset_less=True)
                fresh = Signal(name=f"pe{i}_{j}_fresh", init=1)
                result = Signal(acc_shape, name=f"pe{i}_{j}_result", reset_less=True)
                total = Signal(acc_shape, name=f"pe{i}_{j}_sum")
                m.d.comb += total.eq(Mux(fresh, 0, acc) + product)
                with m.If(product_valid):
                    m.d.sync += [acc.eq(total), fresh.eq(product_last)]
                    with m.If(product_last):
                        m.d.sync += result.eq(total)
                results[i][j] = result

                a_in, valid_in, last_in = a_reg, valid, last
                north[j] = b_reg
                if i == rows - 1 and j == cols - 1:
                    m.d.comb += done.eq(product_valid & product_last)

        # Drain the result bank, one row per beat.
        draining = Signal()
        row = Signal(cfg.row_index_width)
        bank_rows = Array(Cat(*results[i]) for i in range(rows))
        m.d.comb += [
            self.c.valid.eq(draining),
            self.c.payload.data.eq(bank_rows[row]),
            self.c.payload.row.eq(row),
            self.c.payload.last.eq(row == rows - 1),
        ]
        drained = Signal()
        m.d.comb += drained.eq(self.c.valid & self.c.ready & (row == rows - 1))
        with m.If(done):
            m.d.sync += draining.eq(1)
        with m.If(self.c.valid & self.c.ready):
            m.d.sync += row.eq(Mux(row == rows - 1, 0, row + 1))
            with m.If(row == rows - 1):
                m.d.sync += draining.eq(0)
        with m.If(fire & self.a.payload.last):
            m.d.sync += bank_pending.eq(1)
        with m.Elif(drained):
            m.d.sync += bank_pending.eq(0)

        return m
