"""Measure two dies joined by the die-to-die link in RTL simulation: latency and throughput.

:func:`bench` runs cocotb tests of :mod:`verif.noc.test_chip` on :data:`BENCH_CONFIG` (two
2x2 dies, the ``fpga`` link: 12-byte flits in 3 beats on 4 lanes x 8 bits, 1 cycle of wire
latency; the same design as the regression test, so the build is shared):

- ``test_zero_load_latency``: one packet at a time between every pair of the 8 nodes; on a die
  the latency is ``2 + 2 * hops``; across the link it is ``2 + 2 * links`` (the mesh links on
  both dies) plus the *link share*, measured.
- ``test_cross_die_throughput``: open-loop traffic (Bernoulli injection into unbounded source
  queues, ejection always ready) at each offered load: uniform random over the other 7 nodes
  (4 of 7 packets cross the link), and all traffic to the other die. Accepted throughput and
  the flits crossing the link per cycle per direction are counted over a window after a
  warm-up; latency runs from a packet's creation to its ejection handshake.
"""

import dataclasses
import json
from pathlib import Path

from hdl.link.d2d import D2DConfig
from hdl.link.noc import DieNetConfig, MeshConfig, TwoDieNetwork
from sim.runner import run_cocotb, to_verilog

__all__ = ["bench", "BENCH_CONFIG", "LOADS", "TOPLEVEL", "chip_params"]

#: Two 2x2 dies, 16-bit payload, gateway at node 1 = (1, 0), joined by the fpga link.
BENCH_CONFIG = DieNetConfig(
    mesh=MeshConfig(k=2, l=2, vcs=2, buffer_depth=4, payload_width=16, dies=2, gateway=1),
    link=D2DConfig.fpga())
#: Offered loads (packets/node/cycle) of uniform random traffic.
LOADS = [0.05, 0.1, 0.15, 0.2, 0.3]
#: Offered load of the all-cross-die run.
CROSS_LOAD = 0.25
TOPLEVEL = "two_die"


def chip_params(config):
    """Return the ``BRGPU_PARAMS`` of a :class:`DieNetConfig`: mesh fields and ``link``."""
    return dataclasses.asdict(config.mesh) | {"link": dataclasses.asdict(config.link)}


def _run(verilog, sim, testcase, report, **params):
    run_cocotb(verilog_text=verilog, toplevel=TOPLEVEL, test_module="verif.noc.test_chip",
               sim=sim, testcase=testcase, params=chip_params(BENCH_CONFIG) | params,
               extra_env={"BRGPU_REPORT": str(report)}, quiet=True)
    return json.loads(Path(report).read_text())


def bench(out_dir, sim, *, loads=None, warmup=200, window=800):
    """Run the two-die benchmark on ``sim``; write ``chip.json`` and ``chip.md`` to ``out_dir``.

    Returns
    -------
    dict
        ``config``, ``zero_load`` (on-die latency by hops, link share), ``uniform`` (one point
        per offered load), ``cross`` (all traffic to the other die), ``markdown``.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = BENCH_CONFIG
    verilog = to_verilog(TwoDieNetwork(config=cfg, wired=False), TOPLEVEL)
    zero = _run(verilog, sim, "test_zero_load_latency", out_dir / "chip_zero_load.json")
    uniform = [_run(verilog, sim, "test_cross_die_throughput",
                    out_dir / f"chip_uniform_{load}.json", load=load, pattern="uniform",
                    warmup=warmup, window=window)
               for load in (loads or LOADS)]
    cross = _run(verilog, sim, "test_cross_die_throughput", out_dir / "chip_cross.json",
                 load=CROSS_LOAD, pattern="cross", warmup=warmup, window=window)
    bound = 1 / cfg.link.beats_per_flit
    mesh = cfg.mesh
    result = {
        "simulator": sim,
        "config": {"mesh": dataclasses.asdict(mesh), "link": dataclasses.asdict(cfg.link)},
        "zero_load": zero, "uniform": uniform, "cross": cross,
        "link_flits_per_cycle_bound": bound,
    }
    share = (f"{zero['link_share_min']}..{zero['link_share_max']} "
             f"(mean {zero['link_share_mean']:.1f})")
    lines = [
        f"# Two-die network benchmark (2 x {mesh.k}x{mesh.l} mesh, gateway node "
        f"{mesh.gateway}, fpga link: {cfg.link.flit_bytes} B flits in "
        f"{cfg.link.beats_per_flit} beats)",
        "",
        f"Simulator: {sim}. Cycles counted in RTL simulation; wires: 1 cycle of latency, no "
        f"errors. Warm-up {warmup} cycles, window {window} cycles.",
        "",
        "| figure | value |",
        "|---|---|",
        "| zero-load latency on a die (inject to eject handshake) | "
        + ", ".join(f"{h} hops: {c}" for h, c in zero["on_die_by_hops"].items()) + " |",
        f"| zero-load latency across the link | 2 + 2 x mesh links + {share} cycles |",
        f"| link share (cycles beyond the same number of mesh links) | {share} |",
        f"| all traffic cross-die, offered {CROSS_LOAD}/node/cycle: flits crossing per cycle "
        f"per direction | {cross['cross_flits_per_cycle_per_direction']:.3f} "
        f"(link bound {bound:.3f}: one flit per {cfg.link.beats_per_flit} cycles) |",
        "",
        "Uniform random traffic over the other 7 nodes (4 of 7 packets cross the link):",
        "",
        "| offered (packets/node/cycle) | accepted | crossing per direction (flits/cycle) | "
        "mean latency on a die | mean latency across |",
        "|---|---|---|---|---|",
    ]
    for p in uniform:
        lines.append(
            f"| {p['offered_per_node']:.3f} | {p['accepted_per_node']:.3f} | "
            f"{p['cross_flits_per_cycle_per_direction']:.3f} | "
            f"{p['mean_latency_on_die']:.1f} | {p['mean_latency_cross']:.1f} |")
    markdown = "\n".join(lines) + "\n"
    result["markdown"] = markdown
    (out_dir / "chip.json").write_text(json.dumps(result, indent=2))
    (out_dir / "chip.md").write_text(markdown)
    return result

