"""HBM stack wrapper: N pseudo-channel controllers behind one front end.

:class:`HBMStack` holds ``channels`` :class:`~hdl.hbm.controller.HBMPseudoChannel` controllers
(16 for one HBM2E stack: 8 channels x 2 pseudo-channels) and presents them as one memory of
``channels`` times the capacity, with the request/response protocol of
:mod:`hdl.hbm.frontend`.

Address interleaving
--------------------
The ``log2(channels)`` bits of the stack byte address from ``channel_bit`` up select the
pseudo-channel; the bits below and above them, closed up, are the address within it::

    stack address:  [ high | channel | low ]        low = bits 0 .. channel_bit - 1
    channel address: [ high | low ]

The default ``channel_bit = log2(line_bytes)`` puts consecutive lines on consecutive
pseudo-channels, so any stream of more than ``channels`` lines keeps them all busy.

Front end
---------
``req`` is steered to the controller its address selects (``req.ready`` is that controller's
``ready``; a request waits until it is accepted). Requests to one address always go to the same
controller, which keeps them in order, so a read still returns the last accepted write. The
read responses of all controllers are merged onto ``resp`` by a round-robin arbiter: after a
response of channel ``c`` is taken, channel ``c + 1`` has the highest priority, so every
controller with a response gets its turn within ``channels`` responses; a choice is held while
``resp`` is stalled. IDs pass through unchanged (the read IDs outstanding across the whole
stack must be distinct); responses of different channels may return in any order.

Memory behind the controllers
-----------------------------
``memory="phy"``: every controller's PHY interface is a port group ``phy0``, ``phy1``, ...
(:mod:`hdl.hbm.phy`), for the DRAM or the cocotb device model. ``memory="onchip"``: each
controller drives its own :class:`~hdl.hbm.onchip.HBMOnChipMemory` and the stack has no PHY
ports (an FPGA board without HBM).
"""

from dataclasses import dataclass

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from ..checks import is_int as _is_int
from .config import HBMControllerConfig, controller_config
from .controller import HBMPseudoChannel
from .frontend import request_layout, response_layout
from .onchip import READ_LATENCY_RANGE, HBMOnChipMemory
from .phy import phy_signature

__all__ = ["HBMStack", "HBMStackConfig", "STACK_MEMORIES", "stack_config"]

STACK_MEMORIES = ("phy", "onchip")


@dataclass(frozen=True, kw_only=True)
class HBMStackConfig:
    """Parameters of an HBM stack wrapper.

    Parameters
    ----------
    channel : HBMControllerConfig
        The configuration of every pseudo-channel controller.
    channels : int
        Pseudo-channels: a power of two from 2 to 64 (16 for one HBM2E stack).
    channel_bit : int, optional
        Lowest bit of the channel field in the stack byte address, from ``log2(line_bytes)``
        to ``log2(channel capacity)``; ``log2(line_bytes)`` (just above the line offset) if
        omitted.
    memory : str
        ``"phy"`` (PHY ports ``phy0`` .. ``phyN-1``) or ``"onchip"`` (an on-chip memory model
        per controller).

    Raises
    ------
    TypeError, ValueError
        Naming the parameter and the allowed values.
    """

    channel: HBMControllerConfig
    channels: int = 16
    channel_bit: int = None
    memory: str = "phy"

    def __post_init__(self):
        if not isinstance(self.channel, HBMControllerConfig):
            raise TypeError(f"channel must be an HBMControllerConfig, not {self.channel!r}")
        if (not _is_int(self.channels) or not 2 <= self.channels <= 64
                or self.channels & (self.channels - 1)):
            raise ValueError(f"channels must be a power of two from 2 to 64, "
                             f"not {self.channels!r}")
        low = exact_log2(self.channel.line_bytes)
        if self.channel_bit is None:
            object.__setattr__(self, "channel_bit", low)
        if (not _is_int(self.channel_bit)
                or not low <= self.channel_bit <= self.channel.addr_width):
            raise ValueError(f"channel_bit must be an integer from {low} to "
                             f"{self.channel.addr_width}, not {self.channel_bit!r}")
        if self.memory not in STACK_MEMORIES:
            raise ValueError(f"memory must be one of {', '.join(STACK_MEMORIES)}, "
                             f"not {self.memory!r}")
        if self.memory == "onchip":
            low, high = READ_LATENCY_RANGE
            if not low <= self.channel.timing.CL <= high:
                raise ValueError(f"memory='onchip' needs the channel timing's CL from {low} "
                                 f"to {high} (the on-chip model's read latency), not "
                                 f"{self.channel.timing.CL}")

    @property
    def channel_bits(self):
        """Width of the channel field."""
        return exact_log2(self.channels)

    @property
    def addr_width(self):
        """Width of the stack byte address."""
        return self.channel.addr_width + self.channel_bits

    def split(self, addr):
        """Return ``(channel, address within the channel)`` of stack byte address ``addr``."""
        cb, k = self.channel_bit, self.channel_bits
        channel = (addr >> cb) & ((1 << k) - 1)
        local = (addr & ((1 << cb) - 1)) | ((addr >> (cb + k)) << cb)
        return channel, local

    def join(self, channel, local):
        """Return the stack byte address of ``local`` in pseudo-channel ``channel``."""
        cb, k = self.channel_bit, self.channel_bits
        return (local & ((1 << cb) - 1)) | (channel << cb) | ((local >> cb) << (cb + k))


def stack_config(name="fpga"):
    """Return the stack configuration of the named chip configuration ``name``.

    ``fpga``: 2 pseudo-channels of the ``fpga`` controller, each with its on-chip memory
    model. ``br104`` and ``br100``: one HBM2E stack, 16 pseudo-channels of the chip's
    controller with PHY ports (BR104 has 2 stacks, BR100 4).
    """
    if name == "fpga":
        return HBMStackConfig(channel=controller_config("fpga"), channels=2, memory="onchip")
    if name in ("br104", "br100"):
        return HBMStackConfig(channel=controller_config(name), channels=16)
    raise ValueError(f"config must be one of fpga, br104, br100, not {name!r}")


class HBMStack(wiring.Component):
    """Pseudo-channel controllers of one HBM stack behind an address interleaver.

    Parameters
    ----------
    config : HBMStackConfig
        Channel configuration, channel count, interleaving bit and memory.

    Attributes
    ----------
    req : In(stream.Signature(request_layout))
        Whole-line requests; ``addr`` is the stack byte address.
    resp : Out(stream.Signature(response_layout))
        Read data with the request's ID, from all channels.
    phy0, phy1, ... : Out(phy_signature)
        The controllers' PHY interfaces (``memory="phy"`` only).
    """

    def __init__(self, *, config=None):
        if config is None:
            config = stack_config("fpga")
        if not isinstance(config, HBMStackConfig):
            self._MustUse__silence = True  # a rejected component is not "unused"
            raise TypeError(f"config must be an HBMStackConfig, not {config!r}")
        self._config = config
        ch = config.channel
        members = {
            "req": In(stream.Signature(request_layout(
                addr_width=config.addr_width, id_width=ch.id_width,
                line_bytes=ch.line_bytes))),
            "resp": Out(stream.Signature(response_layout(
                id_width=ch.id_width, line_bytes=ch.line_bytes))),
        }
        if config.memory == "phy":
            for c in range(config.channels):
                members[f"phy{c}"] = Out(phy_signature(ch.geometry, ch.timing))
        super().__init__(members)

    @property
    def config(self):
        """The stack's configuration."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        n, cb, k = cfg.channels, cfg.channel_bit, cfg.channel_bits
        controllers = []
        for c in range(n):
            ctrl = HBMPseudoChannel(config=cfg.channel)
            m.submodules[f"pc{c}"] = ctrl
            controllers.append(ctrl)
            if cfg.memory == "onchip":
                memory = HBMOnChipMemory(config=cfg.channel)
                m.submodules[f"memory{c}"] = memory
                wiring.connect(m, ctrl.phy, memory.phy)
            else:
                wiring.connect(m, ctrl.phy, wiring.flipped(getattr(self, f"phy{c}")))

        # -- steer requests ------------------------------------------------------------
        req = self.req.payload
        select = Signal(k)
        local = Signal(cfg.channel.addr_width)
        m.d.comb += [
            select.eq(req.addr[cb:cb + k]),
            local.eq(Cat(req.addr[:cb], req.addr[cb + k:])),
        ]
        for c, ctrl in enumerate(controllers):
            m.d.comb += [
                ctrl.req.valid.eq(self.req.valid & (select == c)),
                ctrl.req.payload.op.eq(req.op),
                ctrl.req.payload.addr.eq(local),
                ctrl.req.payload.id.eq(req.id),
                ctrl.req.payload.data.eq(req.data),
                ctrl.req.payload.mask.eq(req.mask),
            ]
        m.d.comb += self.req.ready.eq(
            Cat(*[ctrl.req.ready for ctrl in controllers]).bit_select(select, 1))

        # -- merge responses: round robin, the choice held while resp is stalled -------------
        valids = Signal(n)
        m.d.comb += valids.eq(Cat(*[ctrl.resp.valid for ctrl in controllers]))
        priority = Signal(k)      # the channel that goes first
        held = Signal()           # a response was offered and not taken: keep the choice
        held_grant = Signal(k)
        pick = Signal(k)
        # The first valid channel at or after ``priority``: scan the doubled valid vector.
        doubled = Signal(2 * n)
        m.d.comb += doubled.eq(Cat(valids, valids) >> priority)
        for i in reversed(range(n)):
            with m.If(doubled[i]):
                m.d.comb += pick.eq(priority + i)
        grant = Signal(k)
        m.d.comb += grant.eq(Mux(held, held_grant, pick))
        out_valid = Signal()
        m.d.comb += out_valid.eq(valids.any())
        resp_data = Cat(*[ctrl.resp.payload.as_value() for ctrl in controllers])
        m.d.comb += [
            self.resp.valid.eq(out_valid),
            self.resp.payload.eq(resp_data.word_select(grant, len(self.resp.payload.as_value()))),
        ]
        for c, ctrl in enumerate(controllers):
            m.d.comb += ctrl.resp.ready.eq(self.resp.ready & (grant == c))
        taken = out_valid & self.resp.ready
        m.d.sync += [held.eq(out_valid & ~self.resp.ready), held_grant.eq(grant)]
        with m.If(taken):
            m.d.sync += priority.eq(grant + 1)
        return m
