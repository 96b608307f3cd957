"""cocotb regression of the mesh network interfaces (memory requests and responses as packets)."""

import dataclasses

import pytest

from hdl.link.d2d import D2DConfig
from hdl.link.noc import DieNetConfig, MeshConfig
from hdl.link.noc.interface import MemoryInterface, RequestInterface
from sim.runner import run_cocotb, to_verilog
from tests.conftest import simulators
from verif.noc.memory_system import MeshMemorySystem

# 2x2 mesh; every node is a client, nodes 1 and 2 are homes (node 1 is both).
CONFIG = MeshConfig(k=2, l=2, vcs=2, buffer_depth=4, payload_width=50)
PROTOCOL = {"addr_width": 10, "line_bytes": 4, "id_width": 3}
CLIENTS, HOMES = [0, 1, 2, 3], [1, 2]


@pytest.mark.parametrize("sim", simulators())
def test_mesh_memory_interfaces(sim):
    design = MeshMemorySystem(config=CONFIG, clients=CLIENTS, homes=HOMES, **PROTOCOL)
    run_cocotb(verilog_text=to_verilog(design, "mesh_memory"), toplevel="mesh_memory",
               test_module="verif.noc.test_memory", sim=sim,
               params=dataclasses.asdict(CONFIG) | PROTOCOL | {"clients": CLIENTS,
                                                               "homes": HOMES})


# Two 2x2 dies (nodes 0-3 on die 0, 4-7 on die 1); every node is a client; homes 5 (die 1)
# and 2 (die 0): clients 0, 2 (die 0) reach home 5 and clients 5, 7 (die 1) reach home 2 across
# the link, the others stay on their die. The wires flip bits at BER 1e-4.
CHIP = DieNetConfig(mesh=dataclasses.replace(CONFIG, dies=2, gateway=0), link=D2DConfig.fpga())
CHIP_CLIENTS, CHIP_HOMES = list(range(8)), [5, 2]


@pytest.mark.parametrize("sim", simulators())
def test_two_die_memory_interfaces(sim):
    design = MeshMemorySystem(config=CHIP, clients=CHIP_CLIENTS, homes=CHIP_HOMES, **PROTOCOL)
    run_cocotb(verilog_text=to_verilog(design, "chip_memory"), toplevel="chip_memory",
               test_module="verif.noc.test_memory", sim=sim,
               params=dataclasses.asdict(CHIP.mesh) | PROTOCOL | {
                   "clients": CHIP_CLIENTS, "homes": CHIP_HOMES,
                   "link": dataclasses.asdict(CHIP.link), "errors": {"ber": 1e-4}})


def test_interface_validation():
    with pytest.raises(ValueError, match="payload_width must be at least 50 bits"):
        RequestInterface(config=MeshConfig(k=2, l=2, payload_width=49), homes=[1], **PROTOCOL)
    with pytest.raises(ValueError, match="homes must be a power-of-two count"):
        RequestInterface(config=CONFIG, homes=[0, 1, 2], **PROTOCOL)
    with pytest.raises(ValueError, match="homes must be"):
        RequestInterface(config=CONFIG, homes=[4], **PROTOCOL)
    with pytest.raises(ValueError, match="line_bytes must be a power of two"):
        MemoryInterface(config=CONFIG, addr_width=10, line_bytes=3, id_width=3)
    with pytest.raises(TypeError, match="config must be a MeshConfig"):
        MemoryInterface(config=None, **PROTOCOL)
    with pytest.raises(ValueError, match="node numbers from 0 to 7"):
        RequestInterface(config=CHIP.mesh, homes=[8], **PROTOCOL)
    for homes in (None, 2.5, 3):
        with pytest.raises(TypeError, match="homes must be a sequence of a power-of-two count"):
            RequestInterface(config=CONFIG, homes=homes, **PROTOCOL)
    with pytest.raises(ValueError, match=r"homes must be .*, not \(True,\)"):
        RequestInterface(config=CONFIG, homes=(True,), **PROTOCOL)
    # Two homes of 4-byte lines need address bits 2 (line) and 3 (home select) at least.
    with pytest.raises(ValueError, match="addr_width must be at least .* = 3 .*, not 2"):
        RequestInterface(config=CONFIG, homes=HOMES, addr_width=2, line_bytes=4, id_width=3)
    narrow = RequestInterface(config=CONFIG, homes=HOMES, addr_width=3, line_bytes=4,
                              id_width=3)
    assert "module narrow" in to_verilog(narrow, "narrow")
    interface = RequestInterface(config=CONFIG, homes=HOMES, **PROTOCOL)
    assert [interface.home_of(addr) for addr in (0, 4, 8, 13)] == [1, 2, 1, 2]
    assert "module request_interface" in to_verilog(interface, "request_interface")
