"""Measure the 4x4 mesh in RTL simulation: latency against offered load, saturation, per hop.

:func:`bench` runs two cocotb tests of :mod:`verif.noc.test_mesh` on a 4x4 mesh (two VCs,
4-flit buffers; the payload is 8 bits wide because the width changes no cycle count):

- ``test_zero_load_latency``: one packet at a time between sampled node pairs; the latency
  from the injection handshake to the ejection handshake by hop count gives cycles per hop.
- ``test_load_sweep``: open-loop uniform random traffic (Bernoulli injection, destinations
  uniform over the other nodes, VC at random, ejection always ready) at each offered load.
  Accepted throughput is counted over a measurement window after a warm-up; latency runs from
  the cycle a packet is created in its source queue to its ejection handshake (the testbench's
  driver adds 2 cycles before the injection handshake), so it includes source queueing.

Saturation throughput is the accepted throughput at an offered load of 1 flit/node/cycle,
quoted as a fraction of the ``4 / k`` bisection bound and of the exact XY channel-load bound
of the traffic (:func:`verif.models.noc.ideal_throughput`).
"""

import json
from pathlib import Path

from hdl.link.noc import Mesh, MeshConfig
from sim.runner import run_cocotb, to_verilog
from verif.models.noc import ideal_throughput, traffic_matrix

__all__ = ["bench", "BENCH_CONFIG", "LOADS"]

#: The measured mesh: the same design as the 4x4 regression test, so the build is shared.
BENCH_CONFIG = MeshConfig(k=4, l=4, vcs=2, buffer_depth=4, payload_width=8)
#: Offered loads of the sweep, flits/node/cycle.
LOADS = [0.05, 0.2, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0]


def _run(verilog, sim, testcase, report, **params):
    import dataclasses
    run_cocotb(verilog_text=verilog, toplevel="mesh", test_module="verif.noc.test_mesh",
               sim=sim, testcase=testcase, params=dataclasses.asdict(BENCH_CONFIG) | params,
               extra_env={"BRGPU_REPORT": str(report)}, quiet=True)
    return json.loads(Path(report).read_text())


def bench(out_dir, sim, *, loads=None, warmup=300, window=1000):
    """Run the mesh benchmark on ``sim``; write ``mesh.json`` and ``mesh.md`` to ``out_dir``.

    Returns
    -------
    dict
        ``config``, ``zero_load`` (latency by hops, cycles per hop), ``sweep`` (one point per
        offered load), ``saturation`` (accepted flits/node/cycle and its fractions of the
        bounds), ``markdown``.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = BENCH_CONFIG
    verilog = to_verilog(Mesh(config=cfg), "mesh")
    zero = _run(verilog, sim, "test_zero_load_latency", out_dir / "mesh_zero_load.json")
    by_hops = {int(h): c for h, c in zero["latency_by_hops"].items()}
    longest = max(by_hops)
    per_hop = (by_hops[longest] - by_hops[0]) / longest
    sweep = _run(verilog, sim, "test_load_sweep", out_dir / "mesh_sweep.json",
                 loads=list(loads or LOADS), warmup=warmup, window=window)
    points = sweep["points"]
    top = max(points, key=lambda p: p["offered_load"])
    saturation = top["accepted"]
    peak = max(p["accepted"] for p in points)
    bound = cfg.bisection_bound
    xy_bound = ideal_throughput(cfg.k, cfg.l, traffic_matrix(cfg.k, cfg.l, "uniform"))
    result = {
        "simulator": sim,
        "config": {"k": cfg.k, "l": cfg.l, "vcs": cfg.vcs, "buffer_depth": cfg.buffer_depth},
        "zero_load": {"latency_by_hops": by_hops, "cycles_per_hop": per_hop,
                      "pairs": zero["pairs"]},
        "sweep": points, "warmup": warmup, "window": window,
        "saturation": {
            "accepted": saturation,
            "peak_accepted": peak,
            "bisection_bound": bound,
            "fraction_of_4_over_k": saturation / bound,
            "xy_channel_bound": xy_bound,
            "fraction_of_xy_bound": saturation / xy_bound,
        },
    }
    lines = [
        f"# Mesh benchmark ({cfg.k}x{cfg.l}, {cfg.vcs} VCs, {cfg.buffer_depth}-flit buffers)",
        "",
        f"Simulator: {sim}. Cycles counted in RTL simulation. Uniform random traffic, "
        f"open loop, warm-up {warmup} cycles, window {window} cycles.",
        "",
        "| offered (flits/node/cycle) | accepted | mean latency (cycles, from creation) | "
        "max latency | mean network latency (inject to eject) | mean hops |",
        "|---|---|---|---|---|---|",
    ]
    for p in points:
        lines.append(f"| {p['offered']:.3f} | {p['accepted']:.3f} | {p['mean_latency']:.1f} | "
                     f"{p['max_latency']} | {p['mean_network_latency']:.1f} | "
                     f"{p['mean_hops']:.2f} |")
    sat = result["saturation"]
    lines += [
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| saturation throughput: accepted at offered 1.0 (flits/node/cycle) | "
        f"{saturation:.3f} | |",
        f"| peak accepted throughput over the sweep | {peak:.3f} | |",
        f"| fraction of 4/k = {bound:.3f} | {sat['fraction_of_4_over_k']:.3f} | >= 0.7 |",
        f"| fraction of the XY channel-load bound {xy_bound:.4f} (no self-traffic) | "
        f"{sat['fraction_of_xy_bound']:.3f} | |",
        f"| zero-load cycles per hop | {per_hop:.2f} | <= 2 |",
        "| zero-load latency by hops (inject to eject handshake) | "
        + ", ".join(f"{h}: {c}" for h, c in sorted(by_hops.items())) + " | |",
    ]
    markdown = "\n".join(lines) + "\n"
    result["markdown"] = markdown
    (out_dir / "mesh.json").write_text(json.dumps(result, indent=2))
    (out_dir / "mesh.md").write_text(markdown)
    return result

