"""Network interfaces: memory request/response streams in and out of mesh packets.

The memory-side protocol is the one of ``hdl/cache/protocol.py`` (the cache slice's memory
side and the HBM controller's front end): a request :func:`~hdl.cache.protocol.mem_request_layout`
``{op, addr, id, data, mask}`` moves one line, a read gets one response
:func:`~hdl.cache.protocol.mem_response_layout` ``{data, id}`` and a write none.

:class:`RequestInterface` sits at a node that issues memory requests (a cache slice, a
cluster's DMA). It sends each request as one packet on the request VC to the request's *home*
node, chosen by line interleaving: ``homes[(addr / line_bytes) % len(homes)]``. Response
packets from the response VC become responses.

:class:`MemoryInterface` sits at a home node (an HBM controller, a cache slice). It turns
request packets into requests whose ``id`` is extended with the requester's coordinates,
``{id, src.x, src.y}`` (``id`` in the low bits), so the memory returns it with the data and the
interface knows where to send the response packet.

Every request of one requester to one line goes to the same home on the same VC, so the mesh
keeps them in order: a read returns the data of every earlier write of that requester.
Requests and responses travel on different VCs (``VC_REQUEST``, ``VC_RESPONSE``), so a memory
that waits for its response stream never blocks the requests behind it (``docs/mesh.md``).
"""

from amaranth.hdl import Array, Cat, Const, Module, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from ...cache.protocol import mem_request_layout, mem_response_layout
from ...checks import is_int
from .config import MeshConfig
from .flit import flit_layout

__all__ = ["RequestInterface", "MemoryInterface", "extended_id_width"]


def extended_id_width(config, id_width):
    """Return the ID width at a home's memory port: ``id_width`` plus the source coordinates.

    The coordinates are ``{x, y}``, and ``{x, y, die}`` on two dies.
    """
    return id_width + config.x_width + config.y_width + config.die_width


def _check_common(component, config, addr_width, line_bytes, id_width):
    def fail(exc):
        component._MustUse__silence = True
        raise exc
    if not isinstance(config, MeshConfig):
        fail(TypeError(f"config must be a MeshConfig, not {config!r}"))
    for name, value, low in (("addr_width", addr_width, 1), ("id_width", id_width, 1),
                             ("line_bytes", line_bytes, 1)):
        if not is_int(value) or value < low:
            fail(ValueError(f"{name} must be a positive integer, not {value!r}"))
    if line_bytes & (line_bytes - 1):
        fail(ValueError(f"line_bytes must be a power of two, not {line_bytes!r}"))
    wide = extended_id_width(config, id_width)
    need = max(Shape.cast(mem_request_layout(addr_width=addr_width, line_bytes=line_bytes,
                                             id_width=id_width)).width,
               Shape.cast(mem_response_layout(line_bytes=line_bytes, id_width=id_width)).width)
    if config.payload_width < need:
        fail(ValueError(
            f"payload_width must be at least {need} bits to carry a request or a response "
            f"(addr_width={addr_width}, line_bytes={line_bytes}, id_width={id_width}), not "
            f"{config.payload_width}"))
    return wide


class RequestInterface(wiring.Component):
    """Turn memory requests into request packets and response packets into responses.

    Parameters
    ----------
    config : MeshConfig
        The mesh.
    addr_width, line_bytes, id_width : int
        The memory protocol's parameters (``line_bytes`` a power of two; ``addr_width`` at
        least ``log2(line_bytes) + log2(len(homes))``, so that the address holds the home
        select bits).
    homes : sequence of int
        Node numbers of the home nodes, a power-of-two count; lines are interleaved over them.
        On two dies (``config.dies == 2``) these are global node numbers,
        ``die * nodes + y * k + x``: a home on the other die is reached across the link.

    Attributes
    ----------
    req : In(stream.Signature(mem_request_layout(...)))
        Memory requests.
    resp : Out(stream.Signature(mem_response_layout(...)))
        Read responses, in the order the network delivers them (responses to reads from
        different homes may pass each other).
    inject : Out(stream.Signature(flit_layout(config)))
        To the mesh's ``inject[node][VC_REQUEST]``.
    eject : In(stream.Signature(flit_layout(config)))
        From the mesh's ``eject[node][VC_RESPONSE]``.
    """

    def __init__(self, *, config, addr_width, line_bytes, id_width, homes):
        _check_common(self, config, addr_width, line_bytes, id_width)
        allowed = (f"a power-of-two count of node numbers from 0 to "
                   f"{config.total_nodes - 1}")
        try:
            homes = tuple(homes)
        except TypeError:
            self._MustUse__silence = True
            raise TypeError(f"homes must be a sequence of {allowed}, not {homes!r}") from None
        if (not homes or len(homes) & (len(homes) - 1)
                or any(not is_int(h) or not 0 <= h < config.total_nodes for h in homes)):
            self._MustUse__silence = True
            raise ValueError(f"homes must be {allowed}, not {homes!r}")
        select_bits = exact_log2(len(homes))
        if addr_width < exact_log2(line_bytes) + select_bits:
            self._MustUse__silence = True
            raise ValueError(
                f"addr_width must be at least log2(line_bytes) + log2(len(homes)) = "
                f"{exact_log2(line_bytes) + select_bits} to interleave lines over "
                f"{len(homes)} homes, not {addr_width!r}")
        self._config = config
        self._homes = homes
        self._line_bytes = line_bytes
        self._req_layout = mem_request_layout(addr_width=addr_width, line_bytes=line_bytes,
                                              id_width=id_width)
        self._resp_layout = mem_response_layout(line_bytes=line_bytes, id_width=id_width)
        layout = flit_layout(config)
        super().__init__({
            "req": In(stream.Signature(self._req_layout)),
            "resp": Out(stream.Signature(self._resp_layout)),
            "inject": Out(stream.Signature(layout)),
            "eject": In(stream.Signature(layout)),
        })

    @property
    def homes(self):
        """The home nodes, in interleaving order."""
        return self._homes

    def home_of(self, addr):
        """Return the home node of byte address ``addr``."""
        return self._homes[(addr // self._line_bytes) % len(self._homes)]

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        line_bits = exact_log2(self._line_bytes)
        select_bits = exact_log2(len(self._homes))
        home_x = Array(Const(cfg.global_position(h)[0], cfg.x_width) for h in self._homes)
        home_y = Array(Const(cfg.global_position(h)[1], cfg.y_width) for h in self._homes)
        home_die = Array(Const(cfg.global_position(h)[2], 1) for h in self._homes)
        if select_bits:
            select = self.req.payload.addr[line_bits:line_bits + select_bits]
        else:
            select = Const(0, 1)
        response_bits = Shape.cast(self._resp_layout).width
        m.d.comb += [
            self.inject.valid.eq(self.req.valid),
            self.req.ready.eq(self.inject.ready),
            self.inject.payload.dest.x.eq(home_x[select]),
            self.inject.payload.dest.y.eq(home_y[select]),
            *([self.inject.payload.dest.die.eq(home_die[select])] if cfg.die_width else []),
            self.inject.payload.payload.eq(self.req.payload.as_value()),
            self.resp.valid.eq(self.eject.valid),
            self.eject.ready.eq(self.resp.ready),
            self.resp.payload.eq(self.eject.payload.payload[:response_bits]),
        ]
        return m


class MemoryInterface(wiring.Component):
    """Turn request packets into memory requests and memory responses into response packets.

    Parameters
    ----------
    config : MeshConfig
        The mesh.
    addr_width, line_bytes, id_width : int
        The requesters' memory protocol parameters.

    Attributes
    ----------
    eject : In(stream.Signature(flit_layout(config)))
        From the mesh's ``eject[node][VC_REQUEST]``.
    req : Out(stream.Signature(mem_request_layout(..., id_width=extended_id_width(...))))
        Memory requests; ``id`` is ``{id, src.x, src.y}`` of the request packet
        (``{id, src.x, src.y, src.die}`` on two dies).
    resp : In(stream.Signature(mem_response_layout(..., id_width=extended_id_width(...))))
        Read responses from the memory, with the extended ``id`` of their request.
    inject : Out(stream.Signature(flit_layout(config)))
        To the mesh's ``inject[node][VC_RESPONSE]``; the packet goes to the node in the
        response's ``id`` and carries the requester's own ``id``.
    """

    def __init__(self, *, config, addr_width, line_bytes, id_width):
        wide = _check_common(self, config, addr_width, line_bytes, id_width)
        self._config = config
        self._id_width = id_width
        self._in_layout = mem_request_layout(addr_width=addr_width, line_bytes=line_bytes,
                                             id_width=id_width)
        self._out_resp = mem_response_layout(line_bytes=line_bytes, id_width=id_width)
        layout = flit_layout(config)
        super().__init__({
            "eject": In(stream.Signature(layout)),
            "req": Out(stream.Signature(mem_request_layout(
                addr_width=addr_width, line_bytes=line_bytes, id_width=wide))),
            "resp": In(stream.Signature(mem_response_layout(line_bytes=line_bytes,
                                                            id_width=wide))),
            "inject": Out(stream.Signature(layout)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        request = self._in_layout(self.eject.payload.payload[:Shape.cast(self._in_layout).width])
        source = self.eject.payload.src
        source_bits = Cat(source.x, source.y, *([source.die] if cfg.die_width else []))
        m.d.comb += [
            self.req.valid.eq(self.eject.valid),
            self.eject.ready.eq(self.req.ready),
            self.req.payload.op.eq(request.op),
            self.req.payload.addr.eq(request.addr),
            self.req.payload.id.eq(Cat(request.id, source_bits)),
            self.req.payload.data.eq(request.data),
            self.req.payload.mask.eq(request.mask),
        ]
        wide_id = self.resp.payload.id
        back = Signal(self._out_resp)
        m.d.comb += [back.data.eq(self.resp.payload.data), back.id.eq(wide_id[:self._id_width])]
        m.d.comb += [
            self.inject.valid.eq(self.resp.valid),
            self.resp.ready.eq(self.inject.ready),
            self.inject.payload.dest.x.eq(wide_id[self._id_width:][:cfg.x_width]),
            self.inject.payload.dest.y.eq(wide_id[self._id_width + cfg.x_width:]
                                          [:cfg.y_width]),
            *([self.inject.payload.dest.die.eq(wide_id[-1])] if cfg.die_width else []),
            self.inject.payload.payload.eq(back.as_value()),
        ]
        return m
