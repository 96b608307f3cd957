"""Test harness: a mesh with request interfaces at client nodes and memory interfaces at homes."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hdl.cache.protocol import mem_request_layout, mem_response_layout
from hdl.link.d2d import lanes_layout, status_layout
from hdl.link.noc import VC_REQUEST, VC_RESPONSE, DieNetConfig, Mesh, TwoDieNetwork
from hdl.link.noc.interface import MemoryInterface, RequestInterface, extended_id_width

__all__ = ["MeshMemorySystem"]


class MeshMemorySystem(wiring.Component):
    """A :class:`~hdl.link.noc.Mesh` whose clients reach memories at home nodes by packets.

    Parameters
    ----------
    config : MeshConfig or DieNetConfig
        The mesh of one die, or two dies joined by the die-to-die link
        (:class:`~hdl.link.noc.TwoDieNetwork`, whose lanes become the ports ``lane_tx[d]`` /
        ``lane_rx[d]`` and whose link status is ``status[d]``).
    clients, homes : sequence of int
        Node numbers (global on two dies: ``die * nodes + y * k + x``) with a
        :class:`RequestInterface` (``req[i]``/``resp[i]``) and with a
        :class:`MemoryInterface` (``mem_req[j]``/``mem_resp[j]``). A node may be both.
    addr_width, line_bytes, id_width : int
        The memory protocol of the clients.

    Mesh ports that no interface uses are tied off: their injection ports stay idle and their
    ejection ports never accept, so a packet delivered to one of them stalls the test.
    """

    def __init__(self, *, config, clients, homes, addr_width, line_bytes, id_width):
        self._chip = config if isinstance(config, DieNetConfig) else None
        if self._chip is not None:
            config = self._chip.mesh
        self._config = config
        self._clients, self._homes = tuple(clients), tuple(homes)
        self._protocol = {"addr_width": addr_width, "line_bytes": line_bytes,
                          "id_width": id_width}
        wide = extended_id_width(config, id_width)
        members = {}
        if self._chip is not None:
            members = {
                "lane_tx": Out(lanes_layout(self._chip.link)).array(2),
                "lane_rx": In(lanes_layout(self._chip.link)).array(2),
                "status": Out(status_layout()).array(2),
            }
        super().__init__(members | {
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
        if self._chip is None:
            m.submodules.mesh = mesh = Mesh(config=cfg)
        else:
            m.submodules.mesh = mesh = TwoDieNetwork(config=self._chip, wired=False)
            for d in range(2):
                m.d.comb += [self.lane_tx[d].eq(mesh.lane_tx[d]),
                             mesh.lane_rx[d].eq(self.lane_rx[d]),
                             self.status[d].eq(mesh.status[d])]
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
        for node in range(cfg.total_nodes):
            for vc in range(cfg.vcs):
                if (node, vc, "inject") not in used:
                    m.d.comb += mesh.inject[node][vc].valid.eq(0)
                if (node, vc, "eject") not in used:
                    m.d.comb += mesh.eject[node][vc].ready.eq(0)
        return m
