"""Configuration of the on-die 2D mesh network.

One frozen :class:`MeshConfig` holds every parameter of the mesh; the widths of the flit fields
and the derived figures (ideal uniform-random throughput, zero-load latency) are computed here,
in one place. :func:`mesh_config` returns the named presets:

``fpga``
    A 2x2 mesh (4 nodes: two clusters, two cache slices), 32-bit flit payload.
``br104``, ``br100``
    A 4x4 mesh per tile: one node per streaming processing cluster (16 SPC per tile, each with
    its own L2 slice), 64-bit flit payload. ``br100`` has two such tiles joined by the
    die-to-die link; the mesh of one tile is the same as ``br104``'s.
"""

from dataclasses import dataclass

from amaranth.utils import ceil_log2

from ...checks import is_int as _is_int

__all__ = ["MeshConfig", "MESH_CONFIGS", "mesh_config", "VC_REQUEST", "VC_RESPONSE"]

#: Virtual channel of request packets.
VC_REQUEST = 0
#: Virtual channel of response packets.
VC_RESPONSE = 1


@dataclass(frozen=True)
class MeshConfig:
    """Parameters of a ``k x l`` 2D mesh of routers.

    Parameters
    ----------
    k : int
        Columns of the mesh (the x dimension), 1 to 16; ``k * l`` must be at least 2.
    l : int
        Rows of the mesh (the y dimension), 1 to 16.
    vcs : int
        Virtual channels, 2 to 4. VC 0 carries requests and VC 1 responses (the two message
        classes); more VCs are further independent classes.
    buffer_depth : int
        Flits buffered per virtual channel at every router input, a power of two from 2 to
        16. Depth 4 covers the credit round trip, so one VC alone can use a link every cycle.
    payload_width : int
        Bits of the packet payload carried by every (single-flit) packet, 1 to 1024.
    dies : int
        Dies joined by the die-to-die link, 1 or 2. With 2, node addresses gain a die bit
        (``dest.die``, ``src.die``) and the router at :attr:`gateway` of every die has a
        ``d2d`` port towards the link; a packet for the other die goes XY to the gateway,
        crosses the link on its VC, then XY to its destination.
    gateway : int
        Node number (``y * k + x``) of the gateway router on every die, used when
        ``dies == 2``.
    """

    k: int = 2
    l: int = 2  # noqa: E741 (the mesh's y dimension; the issue names it l)
    vcs: int = 2
    buffer_depth: int = 4
    payload_width: int = 32
    dies: int = 1
    gateway: int = 0

    def __post_init__(self):
        for name in ("k", "l"):
            value = getattr(self, name)
            if not _is_int(value) or not 1 <= value <= 16:
                raise ValueError(f"{name} must be an integer from 1 to 16, not {value!r}")
        if self.k * self.l < 2:
            raise ValueError(f"k * l must be at least 2 nodes, not {self.k}x{self.l}")
        if not _is_int(self.vcs) or not 2 <= self.vcs <= 4:
            raise ValueError(f"vcs must be 2, 3 or 4, not {self.vcs!r}")
        depth = self.buffer_depth
        if not _is_int(depth) or depth not in (2, 4, 8, 16):
            raise ValueError(f"buffer_depth must be 2, 4, 8 or 16, not {depth!r}")
        if not _is_int(self.payload_width) or not 1 <= self.payload_width <= 1024:
            raise ValueError(
                f"payload_width must be an integer from 1 to 1024, not {self.payload_width!r}")
        if not _is_int(self.dies) or self.dies not in (1, 2):
            raise ValueError(f"dies must be 1 or 2, not {self.dies!r}")
        if not _is_int(self.gateway) or not 0 <= self.gateway < self.k * self.l:
            raise ValueError(f"gateway must be a node number from 0 to {self.k * self.l - 1}, "
                             f"not {self.gateway!r}")

    # Widths -------------------------------------------------------------------------------
    @property
    def x_width(self):
        """Width of an x coordinate."""
        return max(1, ceil_log2(self.k))

    @property
    def y_width(self):
        """Width of a y coordinate."""
        return max(1, ceil_log2(self.l))

    @property
    def vc_width(self):
        """Width of a virtual channel number."""
        return max(1, ceil_log2(self.vcs))

    @property
    def die_width(self):
        """Width of the die bit of an address: 0 on one die, 1 on two."""
        return 0 if self.dies == 1 else 1

    @property
    def nodes(self):
        """Nodes (routers) in the mesh of one die."""
        return self.k * self.l

    @property
    def total_nodes(self):
        """Nodes on all dies; node ``g = die * nodes + y * k + x``."""
        return self.dies * self.nodes

    @property
    def flit_width(self):
        """Bits of one flit: destination, source, VC and payload."""
        return (2 * (self.x_width + self.y_width + self.die_width) + self.vc_width
                + self.payload_width)

    def node(self, x, y):
        """Return the node number of the router at ``(x, y)`` (row-major: ``y * k + x``)."""
        if not (0 <= x < self.k and 0 <= y < self.l):
            raise ValueError(f"node ({x}, {y}) is outside the {self.k}x{self.l} mesh")
        return y * self.k + x

    def position(self, node):
        """Return ``(x, y)`` of node number ``node``."""
        if not 0 <= node < self.nodes:
            raise ValueError(f"node must be from 0 to {self.nodes - 1}, not {node!r}")
        return node % self.k, node // self.k

    def global_node(self, x, y, die=0):
        """Return the node number of router ``(x, y)`` on ``die``: ``die * nodes + y * k + x``."""
        if not 0 <= die < self.dies:
            raise ValueError(f"die must be from 0 to {self.dies - 1}, not {die!r}")
        return die * self.nodes + self.node(x, y)

    def global_position(self, node):
        """Return ``(x, y, die)`` of node number ``node`` (from 0 to ``total_nodes - 1``)."""
        if not 0 <= node < self.total_nodes:
            raise ValueError(f"node must be from 0 to {self.total_nodes - 1}, not {node!r}")
        x, y = self.position(node % self.nodes)
        return x, y, node // self.nodes

    # Derived figures ----------------------------------------------------------------------
    #: Cycles a flit spends in every router it crosses: buffer write, then switch traversal
    #: into the output register.
    cycles_per_hop = 2

    def zero_load_latency(self, hops):
        """Cycles from an injection handshake to the ejection valid of a packet on an idle mesh.

        The packet is written into the source router's injection buffer (1 cycle), crosses the
        source router's switch (1 cycle) and then takes :attr:`cycles_per_hop` per link.
        """
        return 2 + self.cycles_per_hop * hops

    @property
    def bisection_bound(self):
        """Ideal uniform-random throughput of a ``k x k`` mesh, ``4 / k`` flits/node/cycle.

        For a rectangular mesh the bound is ``4 / max(k, l)``: the bisection across the longer
        dimension limits it (Dally & Towles, *Principles and Practices of Interconnection
        Networks*, section 3.3).
        """
        return 4 / max(self.k, self.l)


MESH_CONFIGS = {
    "fpga": MeshConfig(k=2, l=2, vcs=2, buffer_depth=4, payload_width=32),
    "br104": MeshConfig(k=4, l=4, vcs=2, buffer_depth=4, payload_width=64),
    "br100": MeshConfig(k=4, l=4, vcs=2, buffer_depth=4, payload_width=64),
}


def mesh_config(name="fpga"):
    """Return the mesh configuration of the named chip configuration ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not ``fpga``, ``br104`` or ``br100``.
    """
    try:
        return MESH_CONFIGS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"config must be one of {', '.join(MESH_CONFIGS)}, not {name!r}") from None
