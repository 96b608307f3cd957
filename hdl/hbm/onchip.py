"""Synthesizable on-chip memory model behind the PHY interface, and controller + model.

:class:`HBMOnChipMemory` plays the DRAM on an FPGA board without HBM: one block-RAM
:class:`~amaranth.lib.memory.Memory` of ``banks x rows x columns`` bursts. A WR seen on the
column bus in cycle ``c`` takes its data from ``phy.wrdata`` in cycles ``c + CWL ..`` (the JEDEC
mask keeps bytes); an RD returns its burst on ``phy.rddata`` from cycle ``c + read_latency``,
``data_rate`` beats per cycle. Row commands (ACT, PRE, REF) and the auto-precharge bit are
accepted and ignored: the model does not check timing, the controller keeps it anyway.

:class:`HBMOnChipSystem` is the pseudo-channel controller wired to the model: the ``hbm_pc``
block of the ``fpga`` configuration.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from ..checks import is_int
from .config import HBMControllerConfig
from .controller import HBMPseudoChannel
from .frontend import request_layout, response_layout
from .phy import ColCommand, RowCommand, beat_bytes, phy_signature

__all__ = ["HBMOnChipMemory", "HBMOnChipSystem", "READ_LATENCY_RANGE", "check_read_latency"]

#: The model's read latencies, in controller cycles.
READ_LATENCY_RANGE = (2, 64)


def check_read_latency(config, read_latency=None):
    """Return the model's read latency for ``config`` (``CL`` when ``read_latency`` is None).

    Raises
    ------
    ValueError
        If the latency is not an integer from 2 to 64; when it comes from ``CL``, the message
        says so.
    """
    low, high = READ_LATENCY_RANGE
    if read_latency is None:
        if not low <= config.timing.CL <= high:
            raise ValueError(f"read_latency defaults to the timing's CL = {config.timing.CL}, "
                             f"which the on-chip memory model cannot take: pass read_latency "
                             f"(an integer from {low} to {high}) or a timing with CL in "
                             f"that range")
        return config.timing.CL
    if not is_int(read_latency) or not low <= read_latency <= high:
        raise ValueError(f"read_latency must be an integer from {low} to {high}, "
                         f"not {read_latency!r}")
    return read_latency


class HBMOnChipMemory(wiring.Component):
    """Block-RAM model of one pseudo-channel with a fixed read latency.

    Parameters
    ----------
    config : HBMControllerConfig
        Geometry and timing (``CWL``) of the pseudo-channel it stands for.
    read_latency : int, optional
        Cycles from RD to the first read beat, 2 to 64; ``CL`` if omitted (a ``ValueError``
        at construction if that is outside the range).

    Attributes
    ----------
    phy : In(phy_signature)
        The PHY side of a controller.
    """

    def __init__(self, *, config=None, read_latency=None):
        if config is None:
            config = HBMControllerConfig()
        if not isinstance(config, HBMControllerConfig):
            self._MustUse__silence = True
            raise TypeError(f"config must be an HBMControllerConfig, not {config!r}")
        try:
            read_latency = check_read_latency(config, read_latency)
        except ValueError:
            self._MustUse__silence = True
            raise
        self._config = config
        self._read_latency = read_latency
        super().__init__({"phy": In(phy_signature(config.geometry, config.timing))})

    @property
    def config(self):
        """The pseudo-channel configuration."""
        return self._config

    @property
    def read_latency(self):
        """Cycles from RD to the first read beat."""
        return self._read_latency

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        t, geo = cfg.timing, cfg.geometry
        cycles = t.burst_cycles
        width = beat_bytes(geo, t)
        burst_bits = 8 * geo.bytes_per_access
        m.submodules.array = array = Memory(
            shape=burst_bits, depth=geo.banks * geo.rows * geo.columns, init=[])
        # The array address is column, row and bank at their exact widths (the PHY's fields
        # are at least one bit wide, also for a single row or column).
        col_bits, row_bits, bank_bits = (exact_log2(n) for n in
                                         (geo.columns, geo.rows, geo.banks))
        addr_w = col_bits + row_bits + bank_bits
        phy = self.phy

        # The column command is registered first (``skew`` 1) when the write and read
        # latencies leave room for it, so the open-row lookup starts from a register rather
        # than from the controller's pick; the delay lines are one stage shorter to match.
        latency = self._read_latency
        skew = 1 if t.CWL >= 2 and latency >= 3 else 0
        col_cmd = phy.col_cmd
        if skew:
            col_cmd = Signal.like(phy.col_cmd)
            m.d.sync += col_cmd.eq(phy.col_cmd)
        # The open row of each bank, from ACT. The ACT is registered first wherever a column
        # command to its bank looks the row up no sooner than 2 cycles after it (``tRCD``
        # plus ``skew``), so the bank decode and the rows' enables start from a register
        # rather than from the controller's pick.
        row_cmd = phy.row_cmd
        if t.tRCD + skew >= 2:
            row_cmd = Signal.like(phy.row_cmd)
            m.d.sync += row_cmd.eq(phy.row_cmd)
        rows = [Signal.like(phy.row_cmd.row, name=f"row{b}") for b in range(geo.banks)]
        for b in range(geo.banks):
            with m.If((row_cmd.cmd == RowCommand.ACT) & (row_cmd.bank == b)):
                m.d.sync += rows[b].eq(row_cmd.row)
        open_row = Signal.like(phy.row_cmd.row)
        m.d.comb += open_row.eq(Cat(*rows).word_select(col_cmd.bank, len(open_row)))
        address = Signal(addr_w)
        m.d.comb += address.eq(Cat(col_cmd.col[:col_bits], open_row[:row_bits],
                                   col_cmd.bank[:bank_bits]))

        line = data.StructLayout({"valid": 1, "addr": addr_w})

        def delay(name, fire, depth):
            stages = [Signal(line, name=f"{name}{k}") for k in range(depth)]
            m.d.sync += [stages[0].valid.eq(fire), stages[0].addr.eq(address)]
            for k in range(1, depth):
                m.d.sync += stages[k].eq(stages[k - 1])
            return stages

        # Write beats are registered on their way into the array (a cycle later than on the
        # bus: no read of the same burst can come that soon, ``tWTR`` apart), so the block
        # RAM's inputs come from registers.
        writes = delay("wr", col_cmd.cmd == ColCommand.WR, t.CWL + cycles - skew + 1)
        write_port = array.write_port(granularity=8)
        beat = Signal(data.StructLayout({"valid": 1, "data": len(phy.wrdata.data),
                                         "mask": len(phy.wrdata.mask)}))
        m.d.sync += [beat.valid.eq(phy.wrdata.valid), beat.data.eq(phy.wrdata.data),
                     beat.mask.eq(phy.wrdata.mask)]
        for j in range(cycles):
            stage = writes[t.CWL + j - skew]
            with m.If(stage.valid & beat.valid):
                m.d.comb += [
                    write_port.addr.eq(stage.addr),
                    write_port.data.eq(Cat(*[beat.data] * cycles)),
                    write_port.en.eq((~beat.mask & ((1 << width) - 1)) << (j * width)),
                ]

        # The block RAM's output is registered once more (``extra``) when the latency leaves
        # room: its clock-to-output time is long.
        extra = 1 if latency - 3 - skew >= 0 else 0
        reads = delay("rd", col_cmd.cmd == ColCommand.RD, latency - 1 + cycles - skew)
        read_port = array.read_port()
        fetch = reads[latency - 2 - skew - extra]
        m.d.comb += [read_port.addr.eq(fetch.addr), read_port.en.eq(fetch.valid)]
        burst = read_port.data
        if extra:
            burst = Signal.like(read_port.data)
            m.d.sync += burst.eq(read_port.data)
        for j in range(cycles):
            with m.If(reads[latency - 1 + j - skew].valid):
                m.d.comb += [
                    phy.rddata.valid.eq(1),
                    phy.rddata.data.eq(burst.word_select(j, 8 * width)),
                ]
        return m


class HBMOnChipSystem(wiring.Component):
    """A pseudo-channel controller driving the on-chip memory model.

    Parameters
    ----------
    config : HBMControllerConfig
        The controller's configuration; the memory holds its whole geometry.
    read_latency : int, optional
        Read latency of the memory model, 2 to 64 (``CL`` if omitted); checked at
        construction.

    Attributes
    ----------
    req, resp
        As :class:`~hdl.hbm.controller.HBMPseudoChannel`.
    """

    def __init__(self, *, config=None, read_latency=None):
        if config is None:
            config = HBMControllerConfig()
        if not isinstance(config, HBMControllerConfig):
            self._MustUse__silence = True
            raise TypeError(f"config must be an HBMControllerConfig, not {config!r}")
        try:
            read_latency = check_read_latency(config, read_latency)
        except ValueError:
            self._MustUse__silence = True
            raise
        self._config = config
        self._read_latency = read_latency
        super().__init__({
            "req": In(stream.Signature(request_layout(
                addr_width=config.addr_width, id_width=config.id_width,
                line_bytes=config.line_bytes))),
            "resp": Out(stream.Signature(response_layout(
                id_width=config.id_width, line_bytes=config.line_bytes))),
        })

    @property
    def config(self):
        """The controller's configuration."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        m.submodules.controller = controller = HBMPseudoChannel(config=self._config)
        m.submodules.memory = memory = HBMOnChipMemory(config=self._config,
                                                       read_latency=self._read_latency)
        wiring.connect(m, controller.phy, memory.phy)
        wiring.connect(m, wiring.flipped(self.req), controller.req)
        wiring.connect(m, controller.resp, wiring.flipped(self.resp))
        return m
