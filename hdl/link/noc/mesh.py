"""A ``k x l`` 2D mesh of :class:`~hdl.link.noc.router.Router` s.

Node ``n = y * k + x`` is the router at column ``x`` and row ``y``; row 0 is the north edge.
Neighbouring routers are joined by a pair of credit-flow-controlled links
(:class:`~hdl.link.noc.flit.LinkSignature`), one in each direction. Every node has one
injection and one ejection stream per virtual channel; see ``docs/mesh.md``.
"""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...checks import is_int
from .config import MeshConfig
from .flit import LinkSignature, flit_layout
from .router import Router, neighbour

__all__ = ["Mesh"]


class Mesh(wiring.Component):
    """A ``k x l`` mesh of XY-routed, credit-flow-controlled routers with per-VC node ports.

    Parameters
    ----------
    config : MeshConfig
        The mesh's size, virtual channels, buffer depth and flit payload width.
    die : int
        The die this mesh is on (0 or 1; only 0 when ``config.dies == 1``). Routers stamp it
        into ``src.die``.

    Attributes
    ----------
    inject : In(stream.Signature(flit_layout(config))).array(nodes, vcs)
        ``inject[n][v]`` takes packets of VC ``v`` into node ``n``. The network fills in
        ``src`` and ``vc``; ``dest`` must name a node of the mesh.
    eject : Out(stream.Signature(flit_layout(config))).array(nodes, vcs)
        ``eject[n][v]`` delivers the packets of VC ``v`` addressed to node ``n``, in order per
        source.
    d2d_out, d2d_in : Out/In(LinkSignature(config))
        When ``config.dies == 2``: the gateway router's credit-flow-controlled links to and
        from the die-to-die bridge (:class:`hdl.link.noc.chip.D2DBridge`).
    """

    def __init__(self, *, config=None, die=0):
        if config is None:
            config = MeshConfig()
        if not isinstance(config, MeshConfig):
            self._MustUse__silence = True
            raise TypeError(f"config must be a MeshConfig, not {config!r}")
        if not is_int(die) or not 0 <= die < config.dies:
            self._MustUse__silence = True
            raise ValueError(f"die must be an integer from 0 to {config.dies - 1}, not {die!r}")
        self._config = config
        self._die = die
        layout = flit_layout(config)
        members = {
            "inject": In(stream.Signature(layout)).array(config.nodes, config.vcs),
            "eject": Out(stream.Signature(layout)).array(config.nodes, config.vcs),
        }
        if config.dies > 1:
            members["d2d_out"] = Out(LinkSignature(config))
            members["d2d_in"] = In(LinkSignature(config))
        super().__init__(members)

    @property
    def die(self):
        """The die this mesh is on."""
        return self._die

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
                router = Router(config=cfg, x=x, y=y, die=self._die)
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
        if cfg.dies > 1:
            gateway = routers[cfg.position(cfg.gateway)]
            wiring.connect(m, gateway.d2d_out, wiring.flipped(self.d2d_out))
            wiring.connect(m, wiring.flipped(self.d2d_in), gateway.d2d_in)
        return m
