"""Shared pytest set-up: simulator selection and a summary line per simulator."""

import collections
import os

from sim.simulators import selected_simulators

# The regression's simulations are short and spend their time in cocotb's Python: its
# Verilator builds compile their C++ without optimisation (about a third less CPU time per
# build). Soak runs are long and keep Verilator's own levels; BRGPU_VERILATOR_CXX_OPT overrides
# both.
os.environ.setdefault("BRGPU_VERILATOR_CXX_OPT", "default" if os.environ.get("SOAK") else "-O0")

_results = collections.defaultdict(collections.Counter)


def simulators():
    """Return the simulators the cocotb tests run on (``SIM`` restricts them)."""
    return selected_simulators()


def pytest_collection_modifyitems(items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "sim" in callspec.params:
            item.user_properties.append(("sim", callspec.params["sim"]))


def pytest_runtest_logreport(report):
    # Runs in the controlling process, also under pytest-xdist.
    sim = dict(report.user_properties).get("sim")
    if sim is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _results[sim][report.outcome] += 1


def pytest_terminal_summary(terminalreporter):
    if not _results:
        return
    terminalreporter.section("cocotb results per simulator")
    for sim, counts in sorted(_results.items()):
        terminalreporter.write_line(
            f"{sim}: {counts['passed']} passed, {counts['failed']} failed"
            + (f", {counts['skipped']} skipped" if counts["skipped"] else ""))
