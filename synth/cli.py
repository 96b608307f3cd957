"""The ``brgpu`` command line: Verilog, port tables, FPGA synthesis, the demo and benchmarks.

Usage::

    brgpu verilog BLOCK [--config NAME] [-o DIR]
    brgpu ports BLOCK [--config NAME] [--json]
    brgpu synth BLOCK --device ecp5-85f|ice40-up5k [--config NAME] [--freq MHZ] [--seed N]
                [-o DIR]
    brgpu config [NAME] [--json]
    brgpu docs [--check]
    brgpu demo
    brgpu bench [tensor|tensor_fp|cache|hbm|link|mesh|chip|all]

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


def _seed(text):
    """Parse ``--seed``: an integer from 0 to 2**31 - 1 (argparse reports anything else)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2**31 - 1, not {text!r}")
    return value


def _seed_list(text):
    """Parse ``--seeds``: comma-separated ``default``, seeds and ranges ``A-B`` (at most 64)."""
    seeds = []
    for item in text.split(","):
        item = item.strip()
        if item == "default":
            seeds.append(None)
            continue
        low, _, high = item.partition("-")
        try:
            first, last = _seed(low), _seed(high or low)
        except argparse.ArgumentTypeError:
            first = last = -1
        if first < 0 or last < first:
            raise argparse.ArgumentTypeError(
                f"must be a comma-separated list of 'default', seeds (0 to 2**31 - 1) and"
                f" ranges A-B, not {text!r}")
        if len(seeds) + last - first + 1 > 64:  # checked before a long range is expanded
            raise argparse.ArgumentTypeError(f"must name at most 64 distinct seeds, not {text!r}")
        seeds += range(first, last + 1)
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"must name at most 64 distinct seeds, not {text!r}")
    return seeds


def _jobs(text):
    """Parse ``--jobs``: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


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
                        target_mhz=args.freq, seed=args.seed, seeds=args.seeds,
                        jobs=args.jobs, progress=lambda line: print(line, flush=True))
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


def cmd_demo(args):
    """Run an INT8 GEMM on the default tensor core in RTL simulation."""
    from hdl.config import get_config
    from sim.simulators import default_simulator
    from synth.bench_tensor import run_utilisation
    chip = get_config("fpga")
    cfg = chip.tensor
    sim = default_simulator()
    out_dir = _project_build_dir() / "demo"
    print(f"brgpu demo: INT8 GEMM on the {chip.name} tensor core "
          f"({cfg.rows}x{cfg.cols} PEs, {cfg.int8_macs_per_cycle} MAC/cycle), "
          f"simulated with {sim} through cocotb", flush=True)
    start = time.monotonic()
    report = run_utilisation(cfg, tiles=16, k=256, sim=sim, out_dir=out_dir)
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


BENCHES = {
    "tensor": "synth.bench_tensor",
    "tensor_fp": "synth.bench_tensor_fp",
    "cache": "synth.bench_cache",
    "hbm": "synth.bench_hbm",
    "link": "synth.bench_link",
    "mesh": "synth.bench_mesh",
    "chip": "synth.bench_chip",
}


def _available_benches():
    import importlib.util
    return [name for name, module in BENCHES.items() if importlib.util.find_spec(module)]


def cmd_bench(args):
    """Run cycle-count benchmarks in RTL simulation; reports go to build/bench/."""
    import importlib

    from sim.simulators import default_simulator, selected_simulators
    names = _available_benches()
    wanted = names if args.what == "all" else [args.what]
    for name in wanted:
        if name not in names:
            raise UsageError(f"bench must be one of {', '.join(names + ['all'])}, "
                             f"not {name!r}")
    sim = "verilator" if "verilator" in selected_simulators() else default_simulator()
    out_dir = _project_build_dir() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in wanted:
        print(f"[bench] {name} on {sim}", flush=True)
        result = importlib.import_module(BENCHES[name]).bench(out_dir, sim)
        markdown = result.get("markdown") if isinstance(result, dict) else None
        if markdown:
            print(markdown)
        print(f"[bench] {name}: reports in {out_dir}", flush=True)
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
    placement = p.add_mutually_exclusive_group()
    placement.add_argument("--seed", type=_seed, default=None, metavar="N",
                           help="nextpnr placement seed, 0 to 2**31 - 1 (default: nextpnr's own)")
    placement.add_argument("--seeds", type=_seed_list, default=None, metavar="LIST",
                           help="seed sweep: place and route once per seed and report the"
                                " fastest, e.g. default,1-7")
    p.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                   help="placements of a sweep run at the same time (default 1)")
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
    p.add_argument("what", nargs="?", default="all", metavar="WHAT",
                   help=f"one of {', '.join(BENCHES)} or all (default)")
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
    except BrokenPipeError:
        # The reader (e.g. `head`) went away; that is not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
