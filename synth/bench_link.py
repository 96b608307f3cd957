"""Die-to-die link benchmark: goodput and replays against the bit error rate.

Goodput is payload bits delivered divided by raw lane bits, both directions together, counted
in RTL simulation: both ends of one ``br100`` link module (68 B flit, one flit per cycle) send
saturating traffic on both VCs with no backpressure while the cocotb wire model injects random
bit errors; the cycles run from the first offered message to the last delivered one and every
payload is checked by the scoreboards. BER 1e-9 would need ~10^9 flits per error in simulation,
so its figure is the analytic go-back-N extrapolation of :func:`verif.models.link.analytic_goodput`
(labelled ``analytic``); that model is shown next to every measured point.
"""

import json
import time
from pathlib import Path

from hdl.link.d2d import D2DConfig
from verif.link.channel import flit_format
from verif.link.harness import run_link
from verif.models.link import analytic_goodput

__all__ = ["bench", "MEASURED_BERS", "ROUND_TRIP_SLOTS"]

#: Bit error rates simulated in RTL.
MEASURED_BERS = (0.0, 1e-6, 1e-5, 1e-4)
#: Bit error rate extrapolated with the analytic model.
ANALYTIC_BER = 1e-9
#: Round trip of the RTL in flit slots (flit out, serializer, wires, deserializer, receive
#: stage, acknowledgement in the next flit back), rounded up, for the analytic model.
ROUND_TRIP_SLOTS = 16


def bench(out_dir, sim, *, messages=None, config=None):
    """Measure goodput at :data:`MEASURED_BERS` in RTL simulation and write the report.

    Parameters
    ----------
    out_dir : path
        Folder for ``link.json`` and ``link.md``.
    sim : str
        ``"icarus"`` or ``"verilator"``.
    messages : int, optional
        Messages each end sends per BER point; default 3000 on Verilator, 300 on Icarus (which
        simulates the 544-bit datapath about 20 times slower).
    config : D2DConfig, optional
        Link module; default the ``br100`` preset.

    Returns
    -------
    dict
        ``rows`` (one per BER), ``config`` and ``markdown``.
    """
    config = config or D2DConfig.br100()
    if messages is None:
        messages = 3000 if sim == "verilator" else 300
    fmt = flit_format(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for ber in MEASURED_BERS:
        report_file = out_dir / f"link-ber-{ber:g}.json"
        started = time.monotonic()
        run_link(sim, config, "test_goodput", extra_env={"BRGPU_REPORT": str(report_file)},
                 ber=ber, messages=messages)
        report = json.loads(report_file.read_text())
        report_file.unlink()
        rows.append({
            "ber": ber, "source": "RTL simulation", "goodput": report["goodput"],
            "analytic": analytic_goodput(fmt, ber, ROUND_TRIP_SLOTS, config.replay_depth),
            "cycles": report["measured_cycles"], "messages": 2 * messages,
            "flit_errors": report["flit_errors"], "replays": report["replays"],
            "timeouts": report["timeouts"], "retransmissions": report["retransmissions"],
            "retrains": report["retrains"], "wall_s": round(time.monotonic() - started, 1),
        })
    analytic = analytic_goodput(fmt, ANALYTIC_BER, ROUND_TRIP_SLOTS, config.replay_depth)
    rows.insert(1, {"ber": ANALYTIC_BER, "source": "analytic", "goodput": analytic,
                    "analytic": analytic})
    lines = [
        "# Die-to-die link benchmark", "",
        f"One `br100` link module: {config.flit_bytes} B flit ({config.payload_bytes} B "
        f"payload), {config.lanes} lanes x {config.lane_bits} bits/cycle, replay buffer "
        f"{config.replay_depth}, {config.rx_credits} credits per VC; saturating traffic both "
        f"ways, {messages} messages per end per point, on {sim}. Goodput = payload bits "
        f"delivered / raw lane bits; error-free ceiling {config.payload_efficiency:.4f}. "
        f"Analytic: go-back-N model, round trip {ROUND_TRIP_SLOTS} flit slots.", "",
        "| BER | source | goodput | analytic | cycles | flit errors | replays (timeouts) "
        "| flits resent | retrains |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["source"] == "analytic":
            lines.append(f"| {row['ber']:g} | analytic | {row['goodput']:.4f} | "
                         f"{row['analytic']:.4f} | - | - | - | - | - |")
        else:
            lines.append(
                f"| {row['ber']:g} | RTL | {row['goodput']:.4f} | {row['analytic']:.4f} | "
                f"{row['cycles']} | {row['flit_errors']} | {row['replays']} "
                f"({row['timeouts']}) | {row['retransmissions']} | {row['retrains']} |")
    markdown = "\n".join(lines) + "\n"
    result = {"config": config.peak_figures(), "sim": sim, "rows": rows, "markdown": markdown}
    (out_dir / "link.json").write_text(json.dumps(result, indent=2))
    (out_dir / "link.md").write_text(markdown)
    return result
