"""FP tensor core benchmark: back-to-back tiles per precision in RTL simulation.

Runs the cocotb test ``test_utilisation`` of :mod:`verif.tensor.test_fp_core` (every result
checked bit-exact against the numpy model, streams valid and ready throughout) and reports the
cycles from the first ``a`` handshake to the last ``c`` handshake, the steady-state cycles per
tile and the MAC utilisation, per precision.
"""

import dataclasses
import json

__all__ = ["run_utilisation", "bench"]


def run_utilisation(config, *, tiles, k, sim, out_dir, seed=None):
    """Run ``test_utilisation`` on ``config``; return its report dictionary."""
    from hdl.tensor.fp_core import FPTensorCore
    from sim.runner import run_cocotb, to_verilog
    out_dir.mkdir(parents=True, exist_ok=True)
    verilog = to_verilog(FPTensorCore(config=config), "fp_tensor_core")
    verilog_path = out_dir / "fp_tensor_core.v"
    verilog_path.write_text(verilog)
    report_path = out_dir / "utilisation.json"
    report_path.unlink(missing_ok=True)
    params = dataclasses.asdict(config) | {"util_tiles": tiles, "util_k": k,
                                           "precisions": list(config.precisions)}
    result = run_cocotb(verilog_text=verilog, toplevel="fp_tensor_core",
                        test_module="verif.tensor.test_fp_core", sim=sim,
                        testcase="test_utilisation", params=params, seed=seed,
                        extra_env={"BRGPU_REPORT": str(report_path)}, quiet=True)
    report = json.loads(report_path.read_text())
    report.update(sim=sim, seed=result["seed"], verilog=str(verilog_path))
    return report


def bench(out_dir, sim):
    """Measure the FP tensor core; write ``tensor_fp.json`` and ``tensor_fp.md`` into ``out_dir``.

    Returns a dictionary with the per-case reports and the Markdown text (``"markdown"``).
    """
    from hdl.tensor.fp_config import PRECISIONS, FPTensorCoreConfig, fp_tensor_config
    fpga = fp_tensor_config("fpga")
    cases = [
        ("fpga 4x4 BF16+INT8", fpga, 8, 64),
        ("2x2 all precisions", FPTensorCoreConfig(
            rows=2, cols=2, precisions=PRECISIONS, mul_stages=fpga.mul_stages,
            add_stages=fpga.add_stages, int8_macs_per_pe=2), 8, 64),
    ]
    results = []
    for label, cfg, tiles, k in cases:
        print(f"[bench] tensor_fp {label}: {tiles} back-to-back tiles per precision, K={k}",
              flush=True)
        report = run_utilisation(cfg, tiles=tiles, k=k, sim=sim,
                                 out_dir=out_dir / "tensor_fp" / label.replace(" ", "_"))
        report.update(case=label, int8_macs_per_pe=cfg.int8_macs_per_pe,
                      single_tile_cycles={p: cfg.tile_cycles(k, p) for p in cfg.precisions},
                      fill_cycles={p: cfg.fill_cycles_of(p) for p in cfg.precisions},
                      drain_cycles=cfg.drain_cycles, min_k_per_tile=cfg.min_k_per_tile())
        results.append(report)
    peaks = {name: fp_tensor_config(name).peak_figures() for name in ("fpga", "br104", "br100")}
    lines = ["# FP tensor core benchmark", "",
             f"Simulator: {sim}. Cycles are counted in RTL simulation from the first `a` "
             "handshake to the last `c` handshake, every stream valid and ready; utilisation = "
             "useful MACs / (MAC/cycle x cycles). Every result is checked bit-exact against "
             "the numpy model.", "",
             "K counts K steps: an INT8 step carries `int8_macs_per_pe` K indices.", "",
             "| case | array | L (interleave) | precision | tiles | K steps | cycles | steady "
             "cycles per tile | one tile alone | utilisation |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for precision, f in r["per_precision"].items():
            lines.append(f"| {r['case']} | {r['rows']}x{r['cols']} | {r['interleave']} | "
                         f"{precision} | {r['tiles']} | {r['k']} | {f['cycles']} | "
                         f"{f['cycles_per_tile_steady']} | "
                         f"{r['single_tile_cycles'][precision]} | {f['utilisation']:.4f} |")
    lines += ["", "| config | peak MAC/cycle per precision |", "|---|---|"]
    for name, figures in peaks.items():
        lines.append(f"| {name} | " + ", ".join(f"{k.split('_')[0]} {v}"
                                                 for k, v in figures.items()) + " |")
    markdown = "\n".join(lines) + "\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {"tensor_fp": results, "peaks": peaks}
    (out_dir / "tensor_fp.json").write_text(json.dumps(document, indent=2))
    (out_dir / "tensor_fp.md").write_text(markdown)
    return document | {"markdown": markdown}
