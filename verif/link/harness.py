"""The design under test: two :class:`hdl.link.d2d.D2DLink` ends side by side.

The ends share the clock and reset but nothing else: the lanes of each end are top-level
ports, and the cocotb :class:`verif.link.channel.WireChannel` carries (and corrupts) the beats
from ``a__lane_tx`` to ``b__lane_rx`` and from ``b__lane_tx`` to ``a__lane_rx``.
"""

import dataclasses

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from hdl.link.d2d import D2DConfig, D2DLink

__all__ = ["LinkPair", "TOPLEVEL", "run_link"]

TOPLEVEL = "d2d_pair"


class LinkPair(wiring.Component):
    """Two link ends ``a`` and ``b`` whose ports are all top-level ports (``a__tx_req__valid``).

    Parameters
    ----------
    config : D2DConfig
        Configuration of both ends.
    """

    def __init__(self, *, config):
        if not isinstance(config, D2DConfig):
            self._MustUse__silence = True
            raise TypeError(f"config must be a D2DConfig, not {config!r}")
        self._config = config
        template = D2DLink(config=config)
        template._MustUse__silence = True  # only its signature is used
        signature = template.signature
        super().__init__({"a": Out(signature), "b": Out(signature)})

    def elaborate(self, platform):
        m = Module()
        for name in ("a", "b"):
            end = D2DLink(config=self._config)
            m.submodules[name] = end
            wiring.connect(m, wiring.flipped(getattr(self, name)), end)
        return m


def run_link(sim, config, testcase, extra_env=None, **params):
    """Build the two-end design for ``config`` and run one test of ``verif.link.test_d2d``.

    ``params`` (and the configuration's fields) reach the testbench in ``BRGPU_PARAMS``.
    """
    from sim.runner import run_cocotb, to_verilog

    verilog = to_verilog(LinkPair(config=config), TOPLEVEL)
    return run_cocotb(verilog_text=verilog, toplevel=TOPLEVEL,
                      test_module="verif.link.test_d2d", sim=sim, testcase=testcase,
                      params=dataclasses.asdict(config) | params, extra_env=extra_env)
