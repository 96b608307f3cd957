"""cocotb testbench of two dies joined by the die-to-die link (:class:`TwoDieNetwork`).

:class:`ChipTB` is the mesh testbench (:class:`verif.noc.tb.MeshTB`: a source, a sink and two
stream monitors per node and VC, global node numbers) plus the wires between the dies: one
:class:`verif.link.channel.WireChannel` per direction carries ``lane_tx__d`` to the other die's
``lane_rx`` and injects bit errors or bursts when asked. Every cycle it checks the link ends'
status: credits within ``[0, rx_credits]`` and no receive buffer overflow.
"""

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from hdl.link.d2d import D2DConfig, status_layout
from hdl.link.noc import DieNetConfig

from ..link.channel import WireChannel
from ..link.tb import check_status
from ..params import params_from_env
from ..payload import decode
from .tb import MeshTB, config_from_env

__all__ = ["ChipTB", "chip_config_from_env", "link_config_from_env"]


def link_config_from_env():
    """Return the :class:`D2DConfig` passed as ``link`` in ``BRGPU_PARAMS``."""
    return D2DConfig(**params_from_env()["link"])


def chip_config_from_env():
    """Return the :class:`DieNetConfig` of the design (mesh fields and ``link``)."""
    return DieNetConfig(mesh=config_from_env(), link=link_config_from_env())


class ChipTB(MeshTB):
    """Testbench of :class:`hdl.link.noc.TwoDieNetwork` built with ``wired=False``.

    Parameters
    ----------
    dut
        The cocotb handle of the top level.
    config : DieNetConfig
        The configuration the design was built with.
    stress : bool
        Random valid gaps and backpressure on every node port (see :class:`MeshTB`).
    latency : int
        Cycles on the wires between the dies beyond the one register stage of the model.
    """

    def __init__(self, dut, config, *, stress=True, latency=1):
        super().__init__(dut, config.mesh, stress=stress)
        self.chip = config
        self.link = config.link
        self.settle_cycles = 4 * self.link.replay_timeout
        self.np_rng = np.random.default_rng(cocotb.RANDOM_SEED)
        rngs = self.np_rng.spawn(2)
        self.channels = [
            WireChannel(getattr(dut, f"lane_tx__{d}"), getattr(dut, f"lane_rx__{1 - d}"),
                        dut.clk, self.link, rng=rngs[d], latency=latency)
            for d in range(2)
        ]
        self.status_layout = status_layout()

    async def start(self):
        """Start the wires and the status check, then the mesh testbench (clock and reset)."""
        for channel in self.channels:
            cocotb.start_soon(channel.run())
        cocotb.start_soon(self._check_status())
        await super().start()

    def status(self, die):
        """Return the decoded ``status`` of the link end of ``die``."""
        return decode(self.status_layout, getattr(self.dut, f"status__{die}").value.to_unsigned())

    async def _check_status(self):
        limit = self.link.rx_credits
        while True:
            await RisingEdge(self.dut.clk)
            if self.dut.rst.value:
                continue
            for die in range(2):
                check_status(self.status(die), limit, f"die {die} link", self.counter.cycle)

    def set_errors(self, **errors):
        """Set the errors of both directions (:meth:`WireChannel.set_errors`)."""
        for channel in self.channels:
            channel.set_errors(**errors)

    def cross_die(self, src, dest):
        """Return whether a packet from ``src`` to ``dest`` crosses the link."""
        return src // self.config.nodes != dest // self.config.nodes
