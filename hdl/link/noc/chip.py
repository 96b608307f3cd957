"""The die-to-die link as a mesh port: one die's network and two dies joined by the link.

Node addresses carry a die bit (``MeshConfig(dies=2)``): a packet for the other die goes XY to
the *gateway* router of its die, leaves through the gateway's ``d2d`` port into the
:class:`D2DBridge`, crosses the :class:`hdl.link.d2d.D2DLink` on the link VC of its class
(mesh VC 0 requests on ``tx_req``, VC 1 responses on ``tx_rsp``), enters the far die's gateway
through its ``d2d`` port and goes XY to its destination. See ``docs/mesh.md``.

:class:`D2DBridge`
    Converts between the gateway router's credit-flow-controlled links and the link's
    per-VC ready/valid streams. Towards the link, one buffer of ``buffer_depth`` flits per VC
    (exactly the credits the gateway router starts with for its ``d2d`` output), drained into
    ``tx_req``/``tx_rsp`` as the link takes them, one credit returned per flit taken. From the
    link, a flit is taken from ``rx_req``/``rx_rsp`` only while a credit of its VC is held for
    the gateway router's ``d2d`` input buffer. Nothing is dropped: a flit never arrives without
    a free slot.
:class:`DieNetwork`
    One die: the :class:`~hdl.link.noc.Mesh`, the bridge at its gateway and one link end.
:class:`TwoDieNetwork`
    Two dies. With ``wired=False`` (for the testbench) the lanes of each link end are
    top-level ports, so a wire model can carry and corrupt them; with ``wired=True`` the lanes
    are connected directly (Verilog generation and synthesis).
"""

from dataclasses import dataclass, field

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...checks import is_int
from ..d2d import NUM_VCS, D2DConfig, D2DLink, lanes_layout, status_layout
from ..d2d.flit import vc_payload_layout
from .config import VC_REQUEST, VC_RESPONSE, MeshConfig
from .flit import LinkSignature, flit_layout
from .mesh import Mesh
from .router import FlitQueue, round_robin

__all__ = ["DieNetConfig", "DIE_NET_CONFIGS", "die_net_config", "D2DBridge", "DieNetwork",
           "TwoDieNetwork"]


def _fpga_mesh():
    return MeshConfig(k=2, l=2, vcs=2, buffer_depth=4, payload_width=32, dies=2, gateway=0)


@dataclass(frozen=True, kw_only=True)
class DieNetConfig:
    """The on-die network of every die and the die-to-die link that joins two of them.

    Parameters
    ----------
    mesh : MeshConfig
        The mesh of each die; ``dies`` must be 2 and ``vcs`` 2 (the link's two VCs, requests
        and responses). ``gateway`` is the node whose router has the ``d2d`` port.
    link : D2DConfig
        The die-to-die link; a whole mesh flit travels in one link message, so
        ``8 * link.payload_bytes`` must hold ``mesh.flit_width`` bits.
    """

    mesh: MeshConfig = field(default_factory=_fpga_mesh)
    link: D2DConfig = field(default_factory=D2DConfig.fpga)

    def __post_init__(self):
        if not isinstance(self.mesh, MeshConfig):
            raise TypeError(f"mesh must be a MeshConfig, not {self.mesh!r}")
        if not isinstance(self.link, D2DConfig):
            raise TypeError(f"link must be a D2DConfig, not {self.link!r}")
        if self.mesh.dies != 2:
            raise ValueError(f"mesh.dies must be 2, not {self.mesh.dies!r}")
        if self.mesh.vcs != NUM_VCS:
            raise ValueError(f"mesh.vcs must be {NUM_VCS} (the link's request and response "
                             f"VCs), not {self.mesh.vcs!r}")
        if self.mesh.flit_width > 8 * self.link.payload_bytes:
            raise ValueError(
                f"link.payload_bytes must hold a mesh flit of {self.mesh.flit_width} bits "
                f"(at least {-(-self.mesh.flit_width // 8)}), not {self.link.payload_bytes}")

    # Presets ------------------------------------------------------------------------------
    @classmethod
    def fpga(cls):
        """Return two 2x2 dies (32-bit payload) joined by the ``fpga`` link at node 0."""
        return cls()

    @classmethod
    def br100(cls):
        """Return two 4x4 dies (64-bit payload) joined by one ``br100`` link module.

        The gateway is node 8, ``(0, 2)``, on the west edge. BR100's 896 GB/s need seven
        modules; one is modelled.
        """
        mesh = MeshConfig(k=4, l=4, vcs=2, buffer_depth=4, payload_width=64, dies=2,
                          gateway=8)
        return cls(mesh=mesh, link=D2DConfig.br100())

    @classmethod
    def preset(cls, name):
        """Return the named configuration (``br104`` has no peer die: it gets ``br100``'s)."""
        presets = {"fpga": cls.fpga, "br104": cls.br100, "br100": cls.br100}
        try:
            return presets[name]()
        except (KeyError, TypeError):
            raise ValueError(
                f"config must be one of {', '.join(presets)}, not {name!r}") from None

    # Derived figures ----------------------------------------------------------------------
    def mesh_hops(self, src, dest):
        """Return the router-to-router links a packet from ``src`` to ``dest`` crosses.

        Nodes are global (``die * nodes + y * k + x``); a cross-die packet counts the links to
        the gateway on its source die and from the gateway on its destination die.
        """
        cfg = self.mesh
        sx, sy, sd = cfg.global_position(src)
        dx, dy, dd = cfg.global_position(dest)
        if sd == dd:
            return abs(sx - dx) + abs(sy - dy)
        gx, gy = cfg.position(cfg.gateway)
        return abs(sx - gx) + abs(sy - gy) + abs(gx - dx) + abs(gy - dy)


DIE_NET_CONFIGS = ("fpga", "br104", "br100")


def die_net_config(name="fpga"):
    """Return the :class:`DieNetConfig` of the named chip configuration."""
    return DieNetConfig.preset(name)


def _check_config(component, config):
    if not isinstance(config, DieNetConfig):
        component._MustUse__silence = True
        raise TypeError(f"config must be a DieNetConfig, not {config!r}")


class D2DBridge(wiring.Component):
    """Join the gateway router's ``d2d`` port to one end of the die-to-die link.

    Parameters
    ----------
    config : DieNetConfig
        The mesh and the link.

    Attributes
    ----------
    mesh_in : In(LinkSignature(mesh))
        Flits from the gateway router's ``d2d_out`` (for the other die). Each is written into
        the buffer of its VC (``buffer_depth`` flits, the credits the router starts with); a
        ``credit[vc]`` pulse returns the slot when the link takes the flit.
    mesh_out : Out(LinkSignature(mesh))
        Flits from the other die to the gateway router's ``d2d_in``, sent only with a credit
        of their VC (round robin between the VCs); registered.
    tx_req, tx_rsp : Out(stream.Signature(vc_payload_layout(link.payload_bytes)))
        To the link's ``tx_req`` / ``tx_rsp``: mesh flits of VC 0 / VC 1, the flit in the low
        bits of the message.
    rx_req, rx_rsp : In(stream.Signature(vc_payload_layout(link.payload_bytes)))
        From the link's ``rx_req`` / ``rx_rsp``.
    """

    def __init__(self, *, config):
        _check_config(self, config)
        self._config = config
        mesh = config.mesh
        message = vc_payload_layout(config.link.payload_bytes)
        super().__init__({
            "mesh_in": In(LinkSignature(mesh)),
            "mesh_out": Out(LinkSignature(mesh)),
            "tx_req": Out(stream.Signature(message)),
            "tx_rsp": Out(stream.Signature(message)),
            "rx_req": In(stream.Signature(message)),
            "rx_rsp": In(stream.Signature(message)),
        })

    @property
    def config(self):
        """The configuration."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        mesh = self._config.mesh
        width, depth = mesh.flit_width, mesh.buffer_depth
        layout = flit_layout(mesh)
        txs = {VC_REQUEST: self.tx_req, VC_RESPONSE: self.tx_rsp}
        rxs = {VC_REQUEST: self.rx_req, VC_RESPONSE: self.rx_rsp}

        # Mesh to link: one buffer per VC, as deep as the router's credits.
        credit_return = Signal(mesh.vcs)
        m.d.comb += self.mesh_in.credit.eq(credit_return)
        for v, tx in txs.items():
            queue = FlitQueue(shape=width, depth=depth)
            m.submodules[f"to_link_vc{v}_buffer"] = queue
            m.d.comb += [
                queue.w.valid.eq(self.mesh_in.valid & (self.mesh_in.flit.vc == v)),
                queue.w.payload.eq(self.mesh_in.flit),
                tx.valid.eq(queue.r.valid),
                tx.payload.as_value().eq(queue.r.payload),
                queue.r.ready.eq(tx.ready),
            ]
            m.d.sync += credit_return[v].eq(tx.valid & tx.ready)

        # Link to mesh: take a flit only with a credit for the router's d2d input buffer.
        credits = [Signal(range(depth + 1), name=f"to_mesh_vc{v}_credits", init=depth)
                   for v in range(mesh.vcs)]
        requests = [rxs[v].valid & (credits[v] != 0) for v in range(mesh.vcs)]
        grants = round_robin(m, requests, "to_mesh")
        flit = Signal(layout)
        for v, rx in rxs.items():
            m.d.comb += rx.ready.eq(grants[v])
            with m.If(grants[v]):
                m.d.comb += [flit.eq(rx.payload.as_value()[:width]), flit.vc.eq(v)]
            m.d.sync += credits[v].eq(credits[v] - grants[v] + self.mesh_out.credit[v])
        m.d.sync += [self.mesh_out.valid.eq(grants.any()), self.mesh_out.flit.eq(flit)]
        return m


class DieNetwork(wiring.Component):
    """One die: its mesh, the bridge at the gateway and one end of the die-to-die link.

    Parameters
    ----------
    config : DieNetConfig
        The mesh and the link.
    die : int
        The die (0 or 1), stamped into ``src.die`` of the packets injected here.

    Attributes
    ----------
    inject, eject : stream arrays ``[nodes][vcs]``
        The mesh's node ports (:class:`~hdl.link.noc.Mesh`); ``dest.die`` selects the die.
    lane_tx : Out(lanes_layout(link))
        Beat to the other die (registered).
    lane_rx : In(lanes_layout(link))
        Beat from the other die.
    status : Out(status_layout())
        The link end's state and counters (:class:`hdl.link.d2d.D2DLink`).
    """

    def __init__(self, *, config=None, die=0):
        if config is None:
            config = DieNetConfig.fpga()
        _check_config(self, config)
        if not is_int(die) or die not in (0, 1):
            self._MustUse__silence = True
            raise ValueError(f"die must be 0 or 1, not {die!r}")
        self._config = config
        self._die = die
        layout = flit_layout(config.mesh)
        mesh = config.mesh
        super().__init__({
            "inject": In(stream.Signature(layout)).array(mesh.nodes, mesh.vcs),
            "eject": Out(stream.Signature(layout)).array(mesh.nodes, mesh.vcs),
            "lane_tx": Out(lanes_layout(config.link)),
            "lane_rx": In(lanes_layout(config.link)),
            "status": Out(status_layout()),
        })

    @property
    def config(self):
        """The configuration."""
        return self._config

    @property
    def die(self):
        """The die."""
        return self._die

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        m.submodules.mesh = mesh = Mesh(config=cfg.mesh, die=self._die)
        m.submodules.bridge = bridge = D2DBridge(config=cfg)
        m.submodules.link = link = D2DLink(config=cfg.link)
        for n in range(cfg.mesh.nodes):
            for v in range(cfg.mesh.vcs):
                wiring.connect(m, wiring.flipped(self.inject[n][v]), mesh.inject[n][v])
                wiring.connect(m, mesh.eject[n][v], wiring.flipped(self.eject[n][v]))
        wiring.connect(m, mesh.d2d_out, bridge.mesh_in)
        wiring.connect(m, bridge.mesh_out, mesh.d2d_in)
        for name in ("tx_req", "tx_rsp"):
            wiring.connect(m, getattr(bridge, name), getattr(link, name))
        for name in ("rx_req", "rx_rsp"):
            wiring.connect(m, getattr(link, name), getattr(bridge, name))
        m.d.comb += [
            self.lane_tx.eq(link.lane_tx),
            link.lane_rx.eq(self.lane_rx),
            self.status.eq(link.status),
        ]
        return m


class TwoDieNetwork(wiring.Component):
    """Two dies, each a :class:`DieNetwork`, joined by the die-to-die link.

    Parameters
    ----------
    config : DieNetConfig
        The mesh of each die and the link.
    wired : bool
        ``True``: the lanes of die 0 drive die 1's and the other way round (for Verilog and
        synthesis). ``False``: the lanes are the ports ``lane_tx[d]`` / ``lane_rx[d]`` so a
        testbench carries them (and injects errors).

    Attributes
    ----------
    inject, eject : stream arrays ``[total_nodes][vcs]``
        Node ``g = die * nodes + y * k + x``; ``inject[g]`` is node ``g % nodes`` of die
        ``g // nodes``.
    lane_tx, lane_rx : Out/In(lanes_layout(link)).array(2)
        The lanes of each die's link end, when ``wired`` is false.
    status : Out(status_layout()).array(2)
        Each link end's state and counters.
    """

    def __init__(self, *, config=None, wired=True):
        if config is None:
            config = DieNetConfig.fpga()
        _check_config(self, config)
        if not isinstance(wired, bool):
            self._MustUse__silence = True
            raise TypeError(f"wired must be a bool, not {wired!r}")
        self._config = config
        self._wired = wired
        mesh = config.mesh
        layout = flit_layout(mesh)
        members = {
            "inject": In(stream.Signature(layout)).array(mesh.total_nodes, mesh.vcs),
            "eject": Out(stream.Signature(layout)).array(mesh.total_nodes, mesh.vcs),
        }
        if not wired:
            members["lane_tx"] = Out(lanes_layout(config.link)).array(2)
            members["lane_rx"] = In(lanes_layout(config.link)).array(2)
        members["status"] = Out(status_layout()).array(2)
        super().__init__(members)

    @property
    def config(self):
        """The configuration."""
        return self._config

    @property
    def wired(self):
        """Whether the lanes are connected inside the design."""
        return self._wired

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        nodes = cfg.mesh.nodes
        dies = []
        for d in range(2):
            die = DieNetwork(config=cfg, die=d)
            m.submodules[f"die{d}"] = die
            dies.append(die)
            for n in range(nodes):
                for v in range(cfg.mesh.vcs):
                    wiring.connect(m, wiring.flipped(self.inject[d * nodes + n][v]),
                                   die.inject[n][v])
                    wiring.connect(m, die.eject[n][v],
                                   wiring.flipped(self.eject[d * nodes + n][v]))
            m.d.comb += self.status[d].eq(die.status)
        if self._wired:
            m.d.comb += [dies[1].lane_rx.eq(dies[0].lane_tx),
                         dies[0].lane_rx.eq(dies[1].lane_tx)]
        else:
            for d in range(2):
                m.d.comb += [self.lane_tx[d].eq(dies[d].lane_tx),
                             dies[d].lane_rx.eq(self.lane_rx[d])]
        return m
