"""Test harness: a mesh with request interfaces at client nodes and memory interfaces at homes."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hdl.cache.protocol import mem_request_layout, mem_response_layout
from hdl.link.noc import VC_REQUEST, VC_RESPONSE, Mesh
from hdl.link.noc.interface import MemoryInterface, RequestInterface, extended_id_width

__all__ = ["MeshMemorySystem"]


class MeshMemorySystem(wiring.Component):
    """A :class:`~hdl.link.noc.Mesh` whose clients reach memories at home nodes by packets.

    Parameters
    ----------
    config : MeshConfig
        The mesh.
    clients, homes : sequence of int
        Node numbers with a :class:`RequestInterface` (``req[i]``/``resp[i]``) and with a
        :class:`MemoryInterface` (``mem_req[j]``/``mem_resp[j]``). A node may be both.
    addr_width, line_bytes, id_width : int
        The memory protocol of the clients.

    Mesh ports that no interface uses are tied off: their injection ports stay idle and their
    ejection ports never accept, so a packet delivered to one of them stalls the test.
    """

    def __init__(self, *, config, clients, homes, addr_width, line_bytes, id_width):
        self._config = config
        self._clients, self._homes = tuple(clients), tuple(homes)
        self._protocol = {"addr_width": addr_width, "line_bytes": line_bytes,
                          "id_width": id_width}
        wide = extended_id_width(config, id_width)
        super().__init__({
            "req": In(stream.Signature(mem_request_layout(
                addr_width=addr_width, line_bytes=line_bytes, id_width=id_width))
            ).array(len(self._clients)),
            "resp": Out(stream.Signature(mem_response_layout(
                line_bytes=line_bytes, id_width=id_width))).array(len(self._clients)),
            "mem_req": Out(stream.Signature(mem_request_layout(
                addr_width=addr_width, line_bytes=line_bytes, id_width=wide))
            ).array(len(self._homes)),
            "mem_resp": In(stream.Signature(mem_response_layout(
                line_bytes=line_bytes, id_width=wide))).array(len(self._homes)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        m.submodules.mesh = mesh = Mesh(config=cfg)
        used = set()
        for i, node in enumerate(self._clients):
            ni = RequestInterface(config=cfg, homes=self._homes, **self._protocol)
            m.submodules[f"client{i}"] = ni
            wiring.connect(m, wiring.flipped(self.req[i]), ni.req)
            wiring.connect(m, ni.resp, wiring.flipped(self.resp[i]))
            wiring.connect(m, ni.inject, mesh.inject[node][VC_REQUEST])
            wiring.connect(m, mesh.eject[node][VC_RESPONSE], ni.eject)
            used |= {(node, VC_REQUEST, "inject"), (node, VC_RESPONSE, "eject")}
        for j, node in enumerate(self._homes):
            ni = MemoryInterface(config=cfg, **self._protocol)
            m.submodules[f"home{j}"] = ni
            wiring.connect(m, mesh.eject[node][VC_REQUEST], ni.eject)
            wiring.connect(m, ni.req, wiring.flipped(self.mem_req[j]))
            wiring.connect(m, wiring.flipped(self.mem_resp[j]), ni.resp)
            wiring.connect(m, ni.inject, mesh.inject[node][VC_RESPONSE])
            used |= {(node, VC_RESPONSE, "inject"), (node, VC_REQUEST, "eject")}
        for node in range(cfg.nodes):
            for vc in range(cfg.vcs):
                if (node, vc, "inject") not in used:
                    m.d.comb += mesh.inject[node][vc].valid.eq(0)
                if (node, vc, "eject") not in used:
                    m.d.comb += mesh.eject[node][vc].ready.eq(0)
        return m
