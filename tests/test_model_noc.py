"""Unit tests of the cycle-free mesh reference (verif/models/noc.py) and of MeshConfig."""

import random

import pytest

from hdl.link.noc import MeshConfig, mesh_config
from verif.models.noc import (
    DeliveryError,
    Packet,
    channel_loads,
    check_delivery,
    chip_hops,
    chip_route,
    crosses_dies,
    expected_delivery,
    global_position,
    hops,
    hotspot,
    ideal_throughput,
    position,
    traffic_matrix,
    transpose,
    uniform_random,
    xy_route,
)


def test_xy_route_goes_x_first():
    # 4x4: node 1 = (1, 0), node 14 = (2, 3).
    assert xy_route(4, 4, 1, 14) == [1, 2, 6, 10, 14]
    assert xy_route(4, 4, 14, 1) == [14, 13, 9, 5, 1]
    assert xy_route(3, 2, 5, 0) == [5, 4, 3, 0]
    assert xy_route(4, 4, 7, 7) == [7]


@pytest.mark.parametrize("k,l", [(2, 2), (3, 2), (4, 4), (1, 5)])
def test_route_is_minimal_and_connected(k, l):  # noqa: E741
    for src in range(k * l):
        for dest in range(k * l):
            path = xy_route(k, l, src, dest)
            assert len(path) - 1 == hops(k, src, dest)
            for a, b in zip(path, path[1:], strict=False):
                (ax, ay), (bx, by) = position(k, a), position(k, b)
                assert abs(ax - bx) + abs(ay - by) == 1
            # Once the route moves along y it never moves along x again.
            xs = [position(k, n)[0] for n in path]
            assert xs == sorted(xs) or xs == sorted(xs, reverse=True)
            turned = [position(k, a)[1] != position(k, b)[1]
                      for a, b in zip(path, path[1:], strict=False)]
            assert turned == sorted(turned)


@pytest.mark.parametrize("k", [2, 4, 6, 8])
def test_uniform_random_bound_is_four_over_k(k):
    # With self-traffic, the busiest XY channel of a k x k mesh carries k / 4 flits per cycle
    # at full injection (even k), so the ideal throughput is 4 / k (Dally & Towles).
    matrix = traffic_matrix(k, k, "uniform", allow_self=True)
    busiest = max(channel_loads(k, k, matrix).values())
    assert busiest == pytest.approx(k / 4)
    assert ideal_throughput(k, k, matrix) == pytest.approx(4 / k)
    assert MeshConfig(k=k, l=k).bisection_bound == pytest.approx(4 / k)


def test_transpose_and_hotspot_patterns():
    for src in range(16):
        assert transpose(4, 4, transpose(4, 4, src)) == src
    x, y = position(4, transpose(4, 4, 1))
    assert (x, y) == (0, 1)
    with pytest.raises(ValueError, match="square"):
        transpose(3, 2, 0)
    rng = random.Random(1)
    draws = [hotspot(rng, 16, 3, spot=5, fraction=0.5) for _ in range(4000)]
    assert 0.5 < draws.count(5) / len(draws) < 0.56
    assert 3 not in draws
    assert all(uniform_random(rng, 4, 2) != 2 for _ in range(200))
    # Transpose on a 4x4 mesh loads the diagonal-crossing links with up to 3 flows.
    loads = channel_loads(4, 4, traffic_matrix(4, 4, "transpose"))
    assert max(loads.values()) == pytest.approx(3.0)


def _packets():
    return [Packet(0, 3, 0, 10), Packet(0, 3, 0, 11), Packet(1, 3, 0, 20), Packet(0, 3, 1, 12),
            Packet(2, 0, 1, 30)]


def test_delivery_accepts_interleaving_across_sources_and_vcs():
    expected = expected_delivery(_packets())
    assert expected[3, 0] == {0: [10, 11], 1: [20]}
    delivered = {(3, 0): [Packet(1, 3, 0, 20), Packet(0, 3, 0, 10), Packet(0, 3, 0, 11)],
                 (3, 1): [Packet(0, 3, 1, 12)], (0, 1): [Packet(2, 0, 1, 30)]}
    assert check_delivery(expected, delivered) == 5


@pytest.mark.parametrize("fault", ["reorder", "drop", "duplicate", "misroute", "alter",
                                   "wrong_vc", "wrong_src"])
def test_delivery_catches_faults(fault):
    expected = expected_delivery(_packets())
    good = {(3, 0): [Packet(0, 3, 0, 10), Packet(0, 3, 0, 11), Packet(1, 3, 0, 20)],
            (3, 1): [Packet(0, 3, 1, 12)], (0, 1): [Packet(2, 0, 1, 30)]}
    bad = {port: list(items) for port, items in good.items()}
    if fault == "reorder":
        bad[3, 0][0], bad[3, 0][1] = bad[3, 0][1], bad[3, 0][0]
    elif fault == "drop":
        bad[3, 0].pop()
    elif fault == "duplicate":
        bad[3, 1].append(Packet(0, 3, 1, 12))
    elif fault == "misroute":
        bad[0, 1] = [Packet(2, 1, 1, 30)]
    elif fault == "alter":
        bad[3, 1] = [Packet(0, 3, 1, 13)]
    elif fault == "wrong_vc":
        bad[3, 1] = []
        bad[3, 0].append(Packet(0, 3, 1, 12))
    elif fault == "wrong_src":
        bad[0, 1] = [Packet(1, 0, 1, 30)]
    with pytest.raises(DeliveryError):
        check_delivery(expected, bad)


def test_mesh_config_validation_and_presets():
    assert mesh_config("fpga").nodes == 4
    assert mesh_config("br100").nodes == 16
    assert mesh_config("br104") == mesh_config("br100")
    cfg = MeshConfig(k=3, l=2, payload_width=8)
    assert (cfg.x_width, cfg.y_width, cfg.vc_width) == (2, 1, 1)
    assert cfg.flit_width == 2 * 3 + 1 + 8
    assert cfg.position(cfg.node(2, 1)) == (2, 1)
    assert cfg.zero_load_latency(3) == 8
    for kwargs, match in (({"k": 0}, "k must"), ({"l": 17}, "l must"),
                          ({"k": 1, "l": 1}, r"k \* l"), ({"vcs": 1}, "vcs must"),
                          ({"buffer_depth": 3}, "buffer_depth must"),
                          ({"payload_width": 0}, "payload_width must"), ({"k": True}, "k must")):
        with pytest.raises(ValueError, match=match):
            MeshConfig(**kwargs)
    with pytest.raises(ValueError, match="config must be one of"):
        mesh_config("huge")


def test_chip_route_crosses_at_the_gateway():
    # Two 2x2 dies, gateway node 1 = (1, 0). Node 6 is (0, 1) on die 1.
    assert chip_route(2, 2, 1, 0, 6) == [0, 1, 5, 4, 6]
    assert chip_hops(2, 2, 1, 0, 6) == (3, 1)
    assert chip_route(2, 2, 1, 7, 1) == [7, 5, 1]
    assert chip_hops(2, 2, 1, 7, 1) == (1, 1)
    # On one die the route is the XY route, numbered on that die.
    assert chip_route(2, 2, 1, 4, 7) == [4, 5, 7]
    assert chip_hops(2, 2, 1, 4, 7) == (2, 0)
    assert chip_route(2, 2, 1, 5, 1) == [5, 1]
    assert crosses_dies(2, 2, 3, 4) and not crosses_dies(2, 2, 4, 7)
    assert global_position(4, 4, 16 + 6) == (2, 1, 1)
    with pytest.raises(ValueError, match="outside two 2x2 dies"):
        chip_route(2, 2, 0, 0, 8)


@pytest.mark.parametrize("gateway", [0, 5, 8])
def test_chip_route_matches_config_hops(gateway):
    from hdl.link.noc import DieNetConfig
    mesh = MeshConfig(k=4, l=3, payload_width=8, dies=2, gateway=gateway)
    cfg = DieNetConfig(mesh=mesh)
    for src in range(24):
        for dest in range(24):
            path = chip_route(4, 3, gateway, src, dest)
            links, crossings = chip_hops(4, 3, gateway, src, dest)
            assert links == cfg.mesh_hops(src, dest)
            assert crossings == int(crosses_dies(4, 3, src, dest))
            assert path[0] == src and path[-1] == dest
            if crossings:
                die = src // 12
                assert path.index(die * 12 + gateway) + 1 == path.index((1 - die) * 12 + gateway)


def test_delivery_check_with_die_bit():
    sent = [Packet(0, 6, 0, 1), Packet(0, 6, 0, 2), Packet(5, 2, 1, 3)]
    expected = expected_delivery(sent)
    assert check_delivery(expected, {(6, 0): sent[:2], (2, 1): [sent[2]]}) == 3
    with pytest.raises(DeliveryError, match="reordered"):
        check_delivery(expected, {(6, 0): [sent[1], sent[0]], (2, 1): [sent[2]]})
    with pytest.raises(DeliveryError, match="belongs to node 6"):
        # Delivered on die 0's node 2 instead of die 1's node 6: the die bit was lost.
        check_delivery(expected, {(2, 0): [sent[0]], (6, 0): [sent[1]], (2, 1): [sent[2]]})


def test_die_net_config_validation():
    from hdl.link.d2d import D2DConfig
    from hdl.link.noc import DieNetConfig, die_net_config
    assert die_net_config("fpga").mesh.flit_width == 39
    assert die_net_config("br100").mesh.gateway == 8
    with pytest.raises(ValueError, match="mesh.dies must be 2"):
        DieNetConfig(mesh=MeshConfig())
    with pytest.raises(ValueError, match="mesh.vcs must be 2"):
        DieNetConfig(mesh=MeshConfig(vcs=3, dies=2))
    with pytest.raises(ValueError, match="link.payload_bytes must hold a mesh flit of 71"):
        DieNetConfig(mesh=MeshConfig(payload_width=64, dies=2), link=D2DConfig())
    with pytest.raises(TypeError, match="link must be a D2DConfig"):
        DieNetConfig(link="fpga")
    with pytest.raises(ValueError, match="config must be one of"):
        die_net_config("br200")
    with pytest.raises(ValueError, match="dies must be 1 or 2"):
        MeshConfig(dies=3)
    with pytest.raises(ValueError, match="gateway must be a node number from 0 to 3"):
        MeshConfig(dies=2, gateway=4)
