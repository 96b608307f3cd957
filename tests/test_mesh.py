"""cocotb regression of the 2D mesh network on every selected simulator."""

import dataclasses
import functools

import pytest

from hdl.link.noc import FlitQueue, Mesh, MeshConfig, Router
from sim.runner import run_cocotb, to_verilog
from tests.conftest import simulators

CONFIGS = {
    # Rectangular, a column count that is not a power of two, the shallowest buffers.
    "3x2-d2": MeshConfig(k=3, l=2, vcs=2, buffer_depth=2, payload_width=8),
    # Square (transpose traffic), routers with all four links, the default buffers; the same
    # design as synth/bench_mesh.py measures.
    "4x4": MeshConfig(k=4, l=4, vcs=2, buffer_depth=4, payload_width=8),
}

TESTCASES = [
    "test_uniform_random",
    "test_transpose",
    "test_hotspot",
    "test_fill_and_drain",
    "test_reset_mid_traffic",
    "test_zero_load_latency",
]


@functools.cache
def mesh_verilog(config):
    """Return the Verilog of a mesh built from ``config`` (elaborated once per session)."""
    return to_verilog(Mesh(config=config), "mesh")


def run_mesh(sim, config, testcase, extra_env=None, **params):
    """Run one cocotb test of :mod:`verif.noc.test_mesh` on a mesh built from ``config``."""
    return run_cocotb(verilog_text=mesh_verilog(config), toplevel="mesh",
                      test_module="verif.noc.test_mesh", sim=sim, testcase=testcase,
                      params=dataclasses.asdict(config) | params, extra_env=extra_env)


@pytest.mark.parametrize("testcase", TESTCASES)
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("sim", simulators())
def test_mesh(sim, config, testcase):
    run_mesh(sim, CONFIGS[config], testcase)


def test_mesh_validation():
    cfg = CONFIGS["3x2-d2"]
    with pytest.raises(ValueError, match="x must be an integer from 0 to 2"):
        Router(config=cfg, x=3, y=0)
    with pytest.raises(ValueError, match="y must be an integer from 0 to 1"):
        Router(config=cfg, x=0, y=-1)
    with pytest.raises(TypeError, match="config must be a MeshConfig"):
        Router(config={"k": 2}, x=0, y=0)
    with pytest.raises(TypeError, match="config must be a MeshConfig"):
        Mesh(config="fpga")
    with pytest.raises(ValueError, match="depth must be a power of two"):
        FlitQueue(shape=8, depth=3)
    for shape in (-1, "x"):
        with pytest.raises(TypeError, match=f"shape must be shape-castable .*, not {shape!r}"):
            FlitQueue(shape=shape, depth=4)


def test_router_ports_follow_position():
    cfg = CONFIGS["3x2-d2"]
    corner, middle = Router(config=cfg, x=0, y=0), Router(config=cfg, x=1, y=1)
    assert corner.directions == ["east", "south"]
    assert middle.directions == ["east", "west", "north"]
    names = {"__".join(map(str, path)) for path, _m, _v in
             middle.signature.flatten(middle)}
    assert {"north_in__flit", "north_out__credit", "inject__1__valid",
            "eject__0__ready"} <= names
    assert "south_in__flit" not in names
    for router in (corner, middle):
        to_verilog(router, "router")


def test_gateway_router_has_a_d2d_port():
    cfg = MeshConfig(k=3, l=2, vcs=2, buffer_depth=2, payload_width=8, dies=2, gateway=4)
    gateway, other = Router(config=cfg, x=1, y=1, die=1), Router(config=cfg, x=0, y=0, die=1)
    assert gateway.directions == ["east", "west", "north", "d2d"]
    assert "d2d" not in other.directions
    names = {"__".join(map(str, path)) for path, _m, _v in gateway.signature.flatten(gateway)}
    assert {"d2d_in__flit", "d2d_out__credit"} <= names
    mesh, flat = Mesh(config=cfg, die=1), Mesh(config=CONFIGS["3x2-d2"])
    assert mesh.die == 1 and "d2d_out" in mesh.signature.members
    assert "d2d_out" not in flat.signature.members
    with pytest.raises(ValueError, match="die must be an integer from 0 to 1"):
        Mesh(config=cfg, die=2)
    with pytest.raises(ValueError, match="die must be an integer from 0 to 0"):
        Router(config=CONFIGS["3x2-d2"], x=0, y=0, die=1)
    for design in (gateway, other, mesh, flat):
        to_verilog(design, "design")
