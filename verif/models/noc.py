"""Cycle-free reference of the on-die mesh network: routes, delivery, traffic and loads.

Written from the specification of the mesh (``docs/mesh.md``), not from the RTL:

- Nodes of a ``k x l`` mesh are numbered ``n = y * k + x``; row 0 is the north edge.
- A packet goes along x first until its column matches, then along y (dimension-order XY
  routing), so its route is unique and it crosses ``|dx| + |dy|`` links.
- The network delivers every packet exactly once, to its destination, on the VC it was
  injected on, with ``src`` set to the injecting node. Packets from one source to one
  destination on one VC arrive in injection order; nothing else about order is promised.

- On two dies joined by the die-to-die link, node ``g = die * k * l + y * k + x``. A packet
  for the other die goes XY to the gateway node of its die, crosses the link (on the link VC
  of its class), then XY from the gateway of the other die to its destination. Delivery and
  order promises are the same, with global node numbers (:func:`chip_route`).

:func:`expected_delivery` turns a list of injected packets into what each ejection port must
receive, per source; :func:`check_delivery` compares what the design delivered with it.
:func:`channel_loads` gives the load of every link for a traffic matrix under XY routing, from
which :func:`ideal_throughput` is the bound no router can beat (Dally & Towles, ch. 3).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Packet", "position", "node", "xy_route", "hops", "expected_delivery", "check_delivery",
    "DeliveryError", "uniform_random", "transpose", "hotspot", "traffic_matrix",
    "channel_loads", "ideal_throughput", "global_position", "chip_route", "chip_hops",
    "crosses_dies",
]


@dataclass(frozen=True)
class Packet:
    """One single-flit packet: source and destination node, virtual channel and payload."""

    src: int
    dest: int
    vc: int
    payload: int


class DeliveryError(AssertionError):
    """The network lost, duplicated, misrouted, altered or reordered a packet."""


def position(k, n):
    """Return ``(x, y)`` of node ``n`` in a mesh of ``k`` columns."""
    return n % k, n // k


def node(k, x, y):
    """Return the node number of ``(x, y)`` in a mesh of ``k`` columns."""
    return y * k + x


def xy_route(k, l, src, dest):  # noqa: E741
    """Return the nodes a packet from ``src`` to ``dest`` visits, both ends included."""
    for value in (src, dest):
        if not 0 <= value < k * l:
            raise ValueError(f"node {value} is outside the {k}x{l} mesh")
    x, y = position(k, src)
    dx, dy = position(k, dest)
    path = [src]
    while x != dx:
        x += 1 if dx > x else -1
        path.append(node(k, x, y))
    while y != dy:
        y += 1 if dy > y else -1
        path.append(node(k, x, y))
    return path


def hops(k, src, dest):
    """Return the links a packet from ``src`` to ``dest`` crosses (Manhattan distance)."""
    sx, sy = position(k, src)
    dx, dy = position(k, dest)
    return abs(sx - dx) + abs(sy - dy)


def global_position(k, l, g):  # noqa: E741
    """Return ``(x, y, die)`` of global node ``g = die * k * l + y * k + x``."""
    nodes = k * l
    x, y = position(k, g % nodes)
    return x, y, g // nodes


def crosses_dies(k, l, src, dest):  # noqa: E741
    """Return whether a packet from global node ``src`` to ``dest`` crosses the link."""
    return src // (k * l) != dest // (k * l)


def chip_route(k, l, gateway, src, dest):  # noqa: E741
    """Return the global nodes a packet visits on two dies joined at ``gateway``.

    ``gateway`` is the node number on each die (``y * k + x``) of the router with the link
    port. A packet that stays on its die takes its XY route; one for the other die takes the
    XY route to its die's gateway, the link (consecutive entries: the two gateways), then the
    XY route from the other die's gateway.
    """
    nodes = k * l
    for value in (src, dest):
        if not 0 <= value < 2 * nodes:
            raise ValueError(f"node {value} is outside two {k}x{l} dies")
    src_die, dest_die = src // nodes, dest // nodes
    if src_die == dest_die:
        return [src_die * nodes + n for n in xy_route(k, l, src % nodes, dest % nodes)]
    first = [src_die * nodes + n for n in xy_route(k, l, src % nodes, gateway)]
    second = [dest_die * nodes + n for n in xy_route(k, l, gateway, dest % nodes)]
    return first + second


def chip_hops(k, l, gateway, src, dest):  # noqa: E741
    """Return ``(mesh links, link crossings)`` of a packet from ``src`` to ``dest``."""
    path = chip_route(k, l, gateway, src, dest)
    crossings = sum(1 for a, b in zip(path, path[1:], strict=False)
                    if a // (k * l) != b // (k * l))
    return len(path) - 1 - crossings, crossings


def expected_delivery(packets: Iterable[Packet]):
    """Return what must arrive where.

    Parameters
    ----------
    packets
        The accepted packets in injection order (order matters only among packets with the
        same source and VC).

    Returns
    -------
    dict
        ``{(dest, vc): {src: [payload, ...]}}``: for every ejection port, the payloads each
        source sent to it, in the order they must arrive.
    """
    expected = collections.defaultdict(lambda: collections.defaultdict(list))
    for packet in packets:
        expected[packet.dest, packet.vc][packet.src].append(packet.payload)
    return {port: dict(sources) for port, sources in expected.items()}


def check_delivery(expected, delivered):
    """Compare delivered packets with :func:`expected_delivery`; return the number checked.

    Parameters
    ----------
    expected : dict
        ``{(dest, vc): {src: [payload, ...]}}`` from :func:`expected_delivery`.
    delivered : dict
        ``{(dest, vc): [Packet, ...]}``: the packets each ejection port delivered, in arrival
        order.

    Raises
    ------
    DeliveryError
        On a packet at the wrong port or VC, from an unexpected source, out of order, altered,
        duplicated or missing.
    """
    checked = 0
    remaining = {port: {src: collections.deque(p) for src, p in sources.items()}
                 for port, sources in expected.items()}
    for (dest, vc), packets in delivered.items():
        for index, packet in enumerate(packets):
            if packet.dest != dest or packet.vc != vc:
                raise DeliveryError(
                    f"port (node {dest}, vc {vc}) item {index}: delivered {packet}, which "
                    f"belongs to node {packet.dest} vc {packet.vc}")
            queue = remaining.get((dest, vc), {}).get(packet.src)
            if not queue:
                raise DeliveryError(
                    f"port (node {dest}, vc {vc}) item {index}: {packet} was not expected "
                    f"(duplicate, or never sent from node {packet.src})")
            want = queue.popleft()
            if want != packet.payload:
                raise DeliveryError(
                    f"port (node {dest}, vc {vc}) item {index} from node {packet.src}: payload "
                    f"{packet.payload:#x}, expected {want:#x} (reordered or altered)")
            checked += 1
    missing = {port: {src: len(q) for src, q in sources.items() if q}
               for port, sources in remaining.items()}
    missing = {port: srcs for port, srcs in missing.items() if srcs}
    if missing:
        raise DeliveryError(f"packets never delivered, per (node, vc) and source: {missing}")
    return checked


# Traffic patterns ----------------------------------------------------------------------------

def uniform_random(rng, nodes, src, *, allow_self=False):
    """Return a destination drawn uniformly from the nodes (other than ``src`` by default)."""
    if allow_self:
        return rng.randrange(nodes)
    dest = rng.randrange(nodes - 1)
    return dest + 1 if dest >= src else dest


def transpose(k, l, src):  # noqa: E741
    """Return the transpose destination of ``src``: ``(x, y) -> (y, x)`` on a square mesh."""
    if k != l:
        raise ValueError(f"transpose traffic needs a square mesh, not {k}x{l}")
    x, y = position(k, src)
    return node(k, y, x)


def hotspot(rng, nodes, src, *, spot, fraction):
    """Return ``spot`` with probability ``fraction``, else a uniform random destination."""
    if rng.random() < fraction:
        return spot
    return uniform_random(rng, nodes, src)


def traffic_matrix(k, l, pattern, **kwargs):  # noqa: E741
    """Return the ``nodes x nodes`` matrix of destination probabilities of a named pattern.

    ``pattern`` is ``uniform`` (destinations other than the source; ``allow_self=True``
    includes it), ``transpose`` or ``hotspot`` (``spot``, ``fraction``).
    """
    nodes = k * l
    matrix = [[0.0] * nodes for _ in range(nodes)]
    for src in range(nodes):
        if pattern == "uniform":
            targets = range(nodes) if kwargs.get("allow_self") else \
                [d for d in range(nodes) if d != src]
            for dest in targets:
                matrix[src][dest] += 1 / len(targets)
        elif pattern == "transpose":
            matrix[src][transpose(k, l, src)] = 1.0
        elif pattern == "hotspot":
            fraction, spot = kwargs["fraction"], kwargs["spot"]
            matrix[src][spot] += fraction
            for dest in range(nodes):
                if dest != src:
                    matrix[src][dest] += (1 - fraction) / (nodes - 1)
        else:
            raise ValueError(f"pattern must be uniform, transpose or hotspot, not {pattern!r}")
    return matrix


def channel_loads(k, l, matrix):  # noqa: E741
    """Return the load of every link under XY routing when every node injects 1 flit/cycle.

    Returns
    -------
    dict
        ``{(from_node, to_node): flits per cycle}`` for every link that carries traffic.
    """
    loads = collections.Counter()
    for src, row in enumerate(matrix):
        for dest, rate in enumerate(row):
            if rate:
                path = xy_route(k, l, src, dest)
                for a, b in zip(path, path[1:], strict=False):
                    loads[a, b] += rate
    return dict(loads)


def ideal_throughput(k, l, matrix):  # noqa: E741
    """Return the injection rate (flits/node/cycle) at which the busiest link is saturated.

    Ejection is not counted: every node ejects on one port per VC. A value above 1 means the
    links are not the bottleneck at full injection.
    """
    loads = channel_loads(k, l, matrix)
    busiest = max(loads.values(), default=0.0)
    return float("inf") if busiest == 0 else 1 / busiest
