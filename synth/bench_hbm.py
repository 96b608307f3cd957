"""Benchmark of the HBM pseudo-channel controller in RTL simulation (``brgpu bench hbm``).

Every figure is a cycle count of the RTL driving the JEDEC-checking device model
(:mod:`verif.hbm.device`), which fails the run on any timing violation:

efficiency
    Data-bus busy cycles (``burst_cycles`` per RD or WR the device accepted) divided by the
    cycles between the handshakes of the ``requests // 10``-th and the ``requests - 8``-th
    request, with refresh on and requests offered every cycle (no valid gaps, no
    backpressure), so the controller is saturated.
latency
    Cycles from a read's request handshake to its response handshake: the average and 99th
    percentile under each pattern, and the unloaded row-hit, closed-bank and row-conflict
    latencies.

random-read bound
    Next to every FR-FCFS ``rand_read`` row, the tFAW bound of random 64 B reads and that
    bound times ``1 - tRFC / tREFI`` under all-bank refresh
    (:meth:`hdl.hbm.config.HBMControllerConfig.random_read_bound`), from the design's preset.

Patterns: ``seq_read``, ``seq_write``, ``seq_mix`` (sequential lines, each a read or a write
with probability 1/2), ``rand_read`` (random 64 B lines over the whole pseudo-channel) and,
for the FCFS baseline, ``rand_read`` again.
"""

import json
import os
from pathlib import Path

from sim.runner import run_cocotb, to_verilog

__all__ = ["bench", "CASES"]

#: (label, design, pattern, requests)
CASES = [
    ("HBM2 FR-FCFS", "bench-hbm2", "seq_read", 9000),
    ("HBM2 FR-FCFS", "bench-hbm2", "seq_write", 9000),
    ("HBM2 FR-FCFS", "bench-hbm2", "seq_mix", 9000),
    ("HBM2 FR-FCFS", "bench-hbm2", "rand_read", 5000),
    ("HBM2 FR-FCFS per-bank refresh", "bench-hbm2-pb", "seq_read", 9000),
    ("HBM2 FR-FCFS per-bank refresh", "bench-hbm2-pb", "seq_write", 9000),
    ("HBM2 FR-FCFS per-bank refresh", "bench-hbm2-pb", "seq_mix", 9000),
    ("HBM2 FR-FCFS per-bank refresh", "bench-hbm2-pb", "rand_read", 5000),
    ("HBM2 FCFS", "bench-hbm2-fcfs", "rand_read", 1200),
    ("HBM2E FR-FCFS", "bench-hbm2e", "seq_read", 9000),
    ("HBM2E FR-FCFS", "bench-hbm2e", "seq_mix", 9000),
    ("HBM2E FR-FCFS", "bench-hbm2e", "rand_read", 5000),
    ("HBM2E FR-FCFS", "bench-hbm2e", "conflict_read", 1500),
    ("HBM2E FR-FCFS per-bank refresh", "bench-hbm2e-pb", "seq_read", 9000),
    ("HBM2E FR-FCFS per-bank refresh", "bench-hbm2e-pb", "seq_mix", 9000),
    ("HBM2E FR-FCFS per-bank refresh", "bench-hbm2e-pb", "rand_read", 5000),
    # The ``fpga`` controller (64 KiB, 8 entries) and the same with 4 entries: what the
    # shorter, faster queue costs per cycle (docs/hbm.md, "FPGA").
    ("fpga preset (8 entries)", "fpga", "seq_read", 500),
    ("fpga preset (8 entries)", "fpga", "seq_mix", 500),
    ("fpga preset (8 entries)", "fpga", "rand_read", 2000),
    ("fpga, 4 entries", "fpga-q4", "seq_read", 500),
    ("fpga, 4 entries", "fpga-q4", "seq_mix", 500),
    ("fpga, 4 entries", "fpga-q4", "rand_read", 2000),
]


def _run(sim, design, testcase, report, **params):
    from hdl.hbm.controller import HBMPseudoChannel
    from verif.hbm.tb import design_config
    verilog = to_verilog(HBMPseudoChannel(config=design_config(design)), "hbm_pc")
    run_cocotb(verilog_text=verilog, toplevel="hbm_pc", test_module="verif.hbm.test_hbm_pc",
               sim=sim, testcase=testcase, params={"design": design, **params},
               extra_env={"BRGPU_REPORT": str(report)}, quiet=True)
    return json.loads(Path(report).read_text())


def bench(out_dir, sim, *, scale=1.0, cases=None):
    """Run the HBM benchmark; write ``hbm.json`` and ``hbm.md`` in ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Where the reports go (created if missing).
    sim : str
        ``"verilator"`` (recommended: thousands of requests) or ``"icarus"``.
    scale : float
        Multiplies every request count (``BRGPU_BENCH_SCALE`` overrides the default 1.0).
    cases : list, optional
        A subset of :data:`CASES`.

    Returns
    -------
    dict
        ``{"sim", "patterns": [...], "unloaded": {...}}``.
    """
    out_dir = Path(out_dir).resolve()   # the simulator runs in its own directory
    out_dir.mkdir(parents=True, exist_ok=True)
    scale = float(os.environ.get("BRGPU_BENCH_SCALE", scale))
    results = []
    for label, design, pattern, requests in cases or CASES:
        count = max(200, int(requests * scale))
        print(f"[bench] hbm {label} {pattern}: {count} requests on {sim}", flush=True)
        report = _run(sim, design, "test_efficiency", out_dir / f"{design}-{pattern}.json",
                      pattern=pattern, requests=count)
        report.update(case=label, design=design)
        results.append(report)
    unloaded = {}
    # "small" is the HBM2 timing without auto-precharge (the test suite's design): the only
    # one where a lone read can find its row open.
    # (The ``fpga`` geometry has 4 rows, too few for the test's row conflicts; its timing,
    # and so its unloaded latencies, are those of ``small``.)
    for design in ["small"] + sorted({design for _, design, _, _ in cases or CASES}):
        if "fcfs" in design or design.endswith("-pb") or design.startswith("fpga"):
            continue
        unloaded[design] = _run(sim, design, "test_unloaded_latency",
                                out_dir / f"{design}-unloaded.json")
    summary = {"sim": sim, "patterns": results, "unloaded": unloaded,
               "random_read_bound": _bounds(results)}
    (out_dir / "hbm.json").write_text(json.dumps(summary, indent=2))
    (out_dir / "hbm.md").write_text(markdown(summary))
    return summary


def _bounds(results):
    """Return the tFAW x refresh bound of random reads next to each measured rand_read."""
    from verif.hbm.tb import design_config
    rows = []
    for r in results:
        cfg = design_config(r["design"])
        # (The bound takes an ACT per request: not so on the 64 KiB ``fpga`` device, where
        # a random line finds its row open about one time in four.)
        if (r["pattern"] != "rand_read" or cfg.scheduler != "frfcfs"
                or r["design"].startswith("fpga")):
            continue
        rows.append({"case": r["case"], "design": r["design"], "refresh": cfg.refresh,
                     "bound": float(cfg.random_read_bound()),
                     "tfaw_bound": float(cfg.random_read_bound("per_bank")),
                     "efficiency": r["efficiency"]})
    return rows


def markdown(summary):
    """Return the benchmark's Markdown table."""
    lines = ["# HBM pseudo-channel controller benchmark", "",
             f"Simulator: {summary['sim']}. Efficiency = data-bus busy cycles / cycles after "
             "warm-up, refresh on, saturating traffic; latency = read request handshake to "
             "response handshake (cycles).", "",
             "| case | pattern | requests | window (cycles) | efficiency | ACTs | REFs | "
             "REFPBs | avg latency | p99 latency |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary["patterns"]:
        avg = "-" if r["latency_avg"] is None else f"{r['latency_avg']:.1f}"
        p99 = "-" if r["latency_p99"] is None else f"{r['latency_p99']:.0f}"
        lines.append(f"| {r['case']} | {r['pattern']} | {r['requests']} | "
                     f"{r['window_cycles']} | {r['efficiency']:.3f} | {r['acts']} | "
                     f"{r['refreshes']} | {r.get('refreshes_per_bank', '-')} | {avg} | {p99} |")
    lines += ["", "Unloaded read latency (cycles). With auto-precharge a lone read closes its "
              "row, so the next read finds the bank closed: its 'row hit' and 'row conflict' "
              "are closed-bank accesses.", "",
              "| design | unloaded row hit | closed bank | row conflict |", "|---|---|---|---|"]
    for design, u in summary["unloaded"].items():
        lines.append(f"| {design} | {u['hit']} | {u['closed']} | {u['conflict']} |")
    lines += ["", "Random 64 B reads against their bound: 4 ACTs per tFAW, each bringing "
              "2 bursts x 2 data cycles, times 1 - tRFC/tREFI with all-bank refresh "
              "(`HBMControllerConfig.random_read_bound`, docs/hbm.md).", "",
              "| case | refresh | tFAW bound | bound with refresh | measured |",
              "|---|---|---|---|---|"]
    for b in summary.get("random_read_bound", []):
        lines.append(f"| {b['case']} | {b['refresh']} | {b['tfaw_bound']:.3f} | "
                     f"{b['bound']:.3f} | {b['efficiency']:.3f} |")
    return "\n".join(lines) + "\n"
