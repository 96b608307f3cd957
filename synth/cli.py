"""The ``brgpu`` command line: Verilog, port tables, FPGA synthesis, the demo and benchmarks.

Usage::

    brgpu verilog BLOCK [--config NAME] [-o DIR]
    brgpu ports BLOCK [--config NAME] [--json]
    brgpu synth BLOCK --device ecp5-85f|ice40-up5k [--config NAME] [--freq MHZ] [-o DIR]
    brgpu config [NAME] [--json]
    brgpu docs [--check]
    brgpu demo
    brgpu bench [tensor]

A bad block, configuration or device name prints one line listing the valid names and exits 2.
"""

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

__all__ = ["main"]


class UsageError(Exception):
    """A bad argument; reported on one line with exit status 2."""


def _project_build_dir():
    from sim.runner import project_root
    return Path(os.environ.get("BRGPU_BUILD", project_root() / "build"))


def _check_names(args):
    from hdl.blocks import get_block
    from hdl.config import get_config
    try:
        if getattr(args, "block", None) is not None:
            get_block(args.block)
        if getattr(args, "config", None) is not None:
            get_config(args.config)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _elaborate(block_name, config):
    from hdl.blocks import build_block, get_block
    from sim.runner import to_verilog
    block = get_block(block_name)
    component = build_block(block_name, config)
    return component, block.toplevel, to_verilog(component, block.toplevel)


def cmd_verilog(args):
    """Write a block's Verilog."""
    _check_names(args)
    out_dir = Path(args.output) if args.output else \
        _project_build_dir() / "verilog" / args.config
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    _, toplevel, text = _elaborate(args.block, args.config)
    path = out_dir / f"{toplevel}.v"
    path.write_text(text)
    print(f"wrote {path} ({len(text.splitlines())} lines, {time.monotonic() - start:.1f} s)")
    return 0


def cmd_ports(args):
    """Print a block's port table."""
    _check_names(args)
    from hdl.blocks import build_block, port_table, port_table_markdown
    rows = port_table(build_block(args.block, args.config))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(port_table_markdown(rows))
    return 0


def cmd_synth(args):
    """Synthesize, place and route a block out of context."""
    _check_names(args)
    from synth.fpga import DEVICES, synthesize
    if args.device not in DEVICES:
        raise UsageError(f"device must be one of {', '.join(DEVICES)}, not {args.device!r}")
    out_dir = Path(args.output) if args.output else \
        _project_build_dir() / "synth" / f"{args.block}-{args.config}-{args.device}"
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"[0] elaborating {args.block} ({args.config} config)", flush=True)
    _, toplevel, text = _elaborate(args.block, args.config)
    source = out_dir / f"{toplevel}.v"
    source.write_text(text)
    report = synthesize(source, toplevel, device=args.device, out_dir=out_dir,
                        target_mhz=args.freq,
                        progress=lambda line: print(line, flush=True))
    print(report.to_markdown())
    print(f"report: {out_dir / 'report.json'}, {out_dir / 'report.md'}")
    return 0


def cmd_config(args):
    """Print the peak figures of a named configuration."""
    from hdl.config import config_names, get_config
    names = [args.name] if args.name else config_names()
    try:
        figures = [get_config(name).peak_figures() for name in names]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for fig in figures:
        print(f"{fig['config']}:")
        for key, value in fig.items():
            if key != "config":
                print(f"  {key:40s} {value:,}" if isinstance(value, (int, float))
                      else f"  {key:40s} {value}")
    return 0


def _run_utilisation(config, *, tiles, k, sim, out_dir, seed=None):
    """Run the tensor core's utilisation test; return its report dictionary."""
    import dataclasses

    from hdl.tensor import TensorCore
    from sim.runner import run_cocotb, to_verilog
    out_dir.mkdir(parents=True, exist_ok=True)
    verilog = to_verilog(TensorCore(config=config), "tensor_core")
    verilog_path = out_dir / "tensor_core.v"
    verilog_path.write_text(verilog)
    report_path = out_dir / "utilisation.json"
    report_path.unlink(missing_ok=True)
    params = dataclasses.asdict(config) | {"util_tiles": tiles, "util_k": k}
    result = run_cocotb(verilog_text=verilog, toplevel="tensor_core",
                        test_module="verif.tensor.test_tensor_core", sim=sim,
                        testcase="test_utilisation", params=params, seed=seed,
                        extra_env={"BRGPU_REPORT": str(report_path)}, quiet=True)
    report = json.loads(report_path.read_text())
    report.update(sim=sim, seed=result["seed"], verilog=str(verilog_path))
    return report


def cmd_demo(args):
    """Run an INT8 GEMM on the default tensor core in RTL simulation."""
    from hdl.config import get_config
    from sim.simulators import default_simulator
    chip = get_config("fpga")
    cfg = chip.tensor
    sim = default_simulator()
    out_dir = _project_build_dir() / "demo"
    print(f"brgpu demo: INT8 GEMM on the {chip.name} tensor core "
          f"({cfg.rows}x{cfg.cols} PEs, {cfg.int8_macs_per_cycle} MAC/cycle), "
          f"simulated with {sim} through cocotb", flush=True)
    start = time.monotonic()
    report = _run_utilisation(cfg, tiles=16, k=256, sim=sim, out_dir=out_dir)
    elapsed = time.monotonic() - start
    print(f"  Verilog      {report['verilog']}")
    print(f"  GEMM         C[{report['m']}x{report['n']}] = A[{report['m']}x{report['k']}] . "
          f"B[{report['k']}x{report['n']}]  ({report['tiles']} tiles of "
          f"{cfg.rows}x{cfg.cols}, K={report['k']})")
    print("  result       bit-exact against numpy (int32 wrap-around)")
    print(f"  cycles       {report['cycles']} (first operand accepted to last result row; "
          f"fill {cfg.fill_cycles}, drain {cfg.drain_cycles})")
    print(f"  utilisation  {report['utilisation']:.4f} = {report['useful_macs']} useful MACs / "
          f"({cfg.int8_macs_per_cycle} x {report['cycles']} cycles)")
    print(f"  seed         {report['seed']} (replay: SEED={report['seed']} make demo); "
          f"{elapsed:.1f} s wall")
    return 0


def cmd_bench(args):
    """Measure the tensor core in RTL simulation; write JSON and Markdown under build/."""
    from hdl.config import TensorCoreConfig, get_config
    from sim.simulators import default_simulator, selected_simulators
    if args.what not in ("tensor",):
        raise UsageError(f"bench must be one of tensor, not {args.what!r}")
    sim = "verilator" if "verilator" in selected_simulators() else default_simulator()
    out_dir = _project_build_dir() / "bench"
    cases = [
        ("fpga 8x8", get_config("fpga").tensor, 16, 256),
        ("16x16", TensorCoreConfig(rows=16, cols=16), 16, 256),
        ("br100 T-core 32x32x2", get_config("br100").tensor, 16, 512),
    ]
    results = []
    for label, cfg, tiles, k in cases:
        print(f"[bench] {label}: {tiles} back-to-back tiles, K={k}, on {sim}", flush=True)
        report = _run_utilisation(cfg, tiles=tiles, k=k, sim=sim,
                                  out_dir=out_dir / label.replace(" ", "_"))
        report.update(case=label, single_tile_cycles=cfg.tile_cycles(k // cfg.k_per_beat),
                      fill_cycles=cfg.fill_cycles, drain_cycles=cfg.drain_cycles)
        results.append(report)
        print(f"        {report['cycles']} cycles, utilisation {report['utilisation']:.4f}",
              flush=True)
    peaks = [get_config(name).peak_figures() for name in ("fpga", "br104", "br100")]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tensor.json").write_text(json.dumps({"tensor": results, "peaks": peaks},
                                                    indent=2))
    lines = ["# Tensor core benchmark", "",
             f"Simulator: {sim}. Cycles are counted in RTL simulation from the first operand "
             "handshake to the last result handshake; utilisation = useful MACs / (MAC/cycle x "
             "cycles).", "",
             "| case | array | tiles | K | cycles | single tile (cycles) | utilisation |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['case']} | {r['rows']}x{r['cols']}x{r['k_per_beat']} | {r['tiles']} "
                     f"| {r['k']} | {r['cycles']} | {r['single_tile_cycles']} | "
                     f"{r['utilisation']:.4f} |")
    lines += ["", "| config | tensor cores | INT8 MAC/cycle per T-core | INT8 MAC/cycle | "
              "INT8 TOPS |", "|---|---|---|---|---|"]
    for p in peaks:
        lines.append(f"| {p['config']} | {p['tensor_cores']} | "
                     f"{p['int8_macs_per_cycle_per_tensor_core']} | {p['int8_macs_per_cycle']} "
                     f"| {p['int8_tops']:.1f} ({p['int8_tops_binary']:.0f} x 1024 GOPS) |")
    (out_dir / "tensor.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwrote {out_dir / 'tensor.json'} and {out_dir / 'tensor.md'}")
    return 0


_PORTS_MARKER = re.compile(
    r"(<!-- ports:(?P<block>[a-z0-9_]+):(?P<config>[a-z0-9]+) -->\n)(?P<body>.*?)(<!-- /ports -->)",
    re.DOTALL)


def render_port_tables(text):
    """Return ``text`` with every ``<!-- ports:BLOCK:CONFIG -->`` section regenerated."""
    from hdl.blocks import build_block, port_table, port_table_markdown

    def table(match):
        rows = port_table(build_block(match["block"], match["config"]))
        return f"{match.group(1)}{port_table_markdown(rows)}\n{match.group(5)}"
    return _PORTS_MARKER.sub(table, text)


def cmd_docs(args):
    """Regenerate (or with --check, verify) the port tables in docs/*.md."""
    from sim.runner import project_root
    stale = []
    for path in sorted((project_root() / "docs").glob("*.md")):
        text = path.read_text()
        new = render_port_tables(text)
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new)
    for path in stale:
        print(f"{'stale' if args.check else 'updated'}: {path}")
    return 1 if (args.check and stale) else 0


def _parser():
    from hdl.config import config_names
    parser = argparse.ArgumentParser(prog="brgpu", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_config(p):
        p.add_argument("--config", default="fpga", metavar="NAME",
                       help=f"named configuration: {', '.join(config_names())} (default fpga)")

    p = sub.add_parser("verilog", help="write a block's Verilog")
    p.add_argument("block", metavar="BLOCK")
    add_config(p)
    p.add_argument("-o", "--output", metavar="DIR", help="output folder (default build/verilog)")
    p.set_defaults(func=cmd_verilog)

    p = sub.add_parser("ports", help="print a block's port table")
    p.add_argument("block", metavar="BLOCK")
    add_config(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.set_defaults(func=cmd_ports)

    p = sub.add_parser("synth", help="out-of-context synthesis and place-and-route")
    p.add_argument("block", metavar="BLOCK")
    p.add_argument("--device", required=True, metavar="DEVICE", help="ecp5-85f or ice40-up5k")
    add_config(p)
    p.add_argument("--freq", type=float, default=100.0, metavar="MHZ",
                   help="target clock (default 100)")
    p.add_argument("-o", "--output", metavar="DIR", help="output folder (default build/synth)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("config", help="print a configuration's peak figures")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("docs", help="regenerate the port tables in docs/ from the code")
    p.add_argument("--check", action="store_true", help="only report stale tables (exit 1)")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("demo", help="run an INT8 GEMM on the fpga tensor core in simulation")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", help="measure blocks in RTL simulation (reports in build/bench)")
    p.add_argument("what", nargs="?", default="tensor", metavar="WHAT", help="tensor")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv=None):
    """Run the command line; return the exit status."""
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"brgpu: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
