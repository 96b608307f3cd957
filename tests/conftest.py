"""Shared pytest set-up: simulator selection and a summary line per simulator."""

import collections

from sim.simulators import selected_simulators

_results = collections.defaultdict(collections.Counter)


def simulators():
    """Return the simulators the cocotb tests run on (``SIM`` restricts them)."""
    return selected_simulators()


# Tests that run a tool for minutes: started first, with the Verilator tests.
_LONG_TESTS = ("tests/test_cli.py::test_synth_tensor_core_ecp5",
               "tests/test_cli.py::test_br100_tensor_core_elaborates")


def _interleaved(items):
    """Return ``items`` taking one test of each module in turn (module order kept)."""
    by_module = collections.defaultdict(collections.deque)
    for item in items:
        by_module[item.nodeid.split("::")[0]].append(item)
    queues = list(by_module.values())
    order = []
    while queues:
        order.extend(queue.popleft() for queue in queues)
        queues = [queue for queue in queues if queue]
    return order


def pytest_collection_modifyitems(items):
    heavy, light = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        sim = callspec.params.get("sim") if callspec is not None else None
        if sim is not None:
            item.user_properties.append(("sim", sim))
        long_run = sim == "verilator" or item.nodeid.split("[")[0] in _LONG_TESTS
        (heavy if long_run else light).append(item)
    # Order for pytest-xdist (``make test`` runs two workers): the long tests (Verilator
    # builds, the synthesis flow) first, so that the run does not end on one of them while
    # the other worker idles; one test of each module in turn, so that the two workers
    # seldom wait on the same simulator build (each design is built once, under a lock).
    items[:] = _interleaved(heavy) + _interleaved(light)


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
