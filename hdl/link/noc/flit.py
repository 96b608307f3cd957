"""Flit format of the mesh and the credit-based link between two routers.

Every packet is one flit. Its layout (:func:`flit_layout`), from bit 0 up:

========= ================= ===============================================================
field     width             meaning
========= ================= ===============================================================
dest.x    ``x_width``       column of the destination router
dest.y    ``y_width``       row of the destination router
dest.die  ``die_width``     die of the destination (only when ``dies == 2``)
src.x     ``x_width``       column of the source router (filled in by the sender)
src.y     ``y_width``       row of the source router
src.die   ``die_width``     die of the source (only when ``dies == 2``)
vc        ``vc_width``      virtual channel: 0 requests, 1 responses (set by the injection
                            port the flit enters through)
payload   ``payload_width`` the packet's contents, carried unchanged
========= ================= ===============================================================

A router-to-router link (:class:`LinkSignature`) is not a ready/valid stream: the sender only
sends a flit when it holds a credit for the flit's VC at the receiver, so ``valid`` is never
refused, and the receiver returns one credit per VC (``credit[vc]`` high for one cycle) each
time a flit of that VC leaves its input buffer.
"""

from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .config import MeshConfig

__all__ = ["coordinate_layout", "flit_layout", "LinkSignature"]


def coordinate_layout(config):
    """Return the layout of a router coordinate ``{x, y}`` (``{x, y, die}`` on two dies)."""
    fields = {"x": config.x_width, "y": config.y_width}
    if config.die_width:
        fields["die"] = config.die_width
    return data.StructLayout(fields)


def flit_layout(config):
    """Return the payload layout of a flit (one single-flit packet) of the mesh ``config``."""
    if not isinstance(config, MeshConfig):
        raise TypeError(f"config must be a MeshConfig, not {config!r}")
    return data.StructLayout({
        "dest": coordinate_layout(config),
        "src": coordinate_layout(config),
        "vc": config.vc_width,
        "payload": config.payload_width,
    })


class LinkSignature(wiring.Signature):
    """One direction of a credit-flow-controlled link between neighbouring routers.

    Members (from the sender's point of view)
    -----------------------------------------
    valid : Out(1)
        A flit is on the link this cycle; the receiver must take it.
    flit : Out(flit_layout(config))
        The flit.
    credit : In(vcs)
        Bit ``v`` high for one cycle: one buffer slot of VC ``v`` was freed at the receiver.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "valid": Out(1),
            "flit": Out(flit_layout(config)),
            "credit": In(config.vcs),
        })

    @property
    def config(self):
        """The mesh configuration of the link."""
        return self._config

    def __eq__(self, other):
        return isinstance(other, LinkSignature) and self._config == other._config

    def __hash__(self):
        return hash(self._config)

    def __repr__(self):
        return f"LinkSignature({self._config!r})"
