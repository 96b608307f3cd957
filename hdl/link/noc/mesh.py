"""A ``k x l`` 2D mesh of :class:`~hdl.link.noc.router.Router` s.

Node ``n = y * k + x`` is the router at column ``x`` and row ``y``; row 0 is the north edge.
Neighbouring routers are joined by a pair of credit-flow-controlled links
(:class:`~hdl.link.noc.flit.LinkSignature`), one in each direction. Every node has one
injection and one ejection stream per virtual channel; see ``docs/mesh.md``.
"""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .config import MeshConfig
from .flit import flit_layout
from .router import Router, neighbour

__all__ = ["Mesh"]


class Mesh(wiring.Component):
    """A ``k x l`` mesh of XY-routed, credit-flow-controlled routers with per-VC node ports.

    Parameters
    ----------
    config : MeshConfig
        The mesh's size, virtual channels, buffer depth and flit payload width.

    Attributes
    ----------
    inject : In(stream.Signature(flit_layout(config))).array(nodes, vcs)
        ``inject[n][v]`` takes packets of VC ``v`` into node ``n``. The network fills in
        ``src`` and ``vc``; ``dest`` must name a node of the mesh.
    eject : Out(stream.Signature(flit_layout(config))).array(nodes, vcs)
        ``eject[n][v]`` delivers the packets of VC ``v`` addressed to node ``n``, in order per
        source.
    """

    def __init__(self, *, config=None):
        if config is None:
            config = MeshConfig()
        if not isinstance(config, MeshConfig):
            self._MustUse__silence = True
            raise TypeError(f"config must be a MeshConfig, not {config!r}")
        self._config = config
        layout = flit_layout(config)
        super().__init__({
            "inject": In(stream.Signature(layout)).array(config.nodes, config.vcs),
            "eject": Out(stream.Signature(layout)).array(config.nodes, config.vcs),
        })

    @property
    def config(self):
        """The mesh configuration."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        routers = {}
        for y in range(cfg.l):
            for x in range(cfg.k):
                router = Router(config=cfg, x=x, y=y)
                routers[x, y] = router
                m.submodules[f"router_x{x}_y{y}"] = router
                node = cfg.node(x, y)
                for v in range(cfg.vcs):
                    wiring.connect(m, wiring.flipped(self.inject[node][v]), router.inject[v])
                    wiring.connect(m, router.eject[v], wiring.flipped(self.eject[node][v]))
        for (x, y), router in routers.items():
            for direction, opposite in (("east", "west"), ("south", "north")):
                other = neighbour(cfg, x, y, direction)
                if other is None:
                    continue
                peer = routers[other]
                wiring.connect(m, getattr(router, f"{direction}_out"),
                               getattr(peer, f"{opposite}_in"))
                wiring.connect(m, getattr(peer, f"{opposite}_out"),
                               getattr(router, f"{direction}_in"))
        return m
