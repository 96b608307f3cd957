"""Tensor core benchmark: back-to-back tiles in RTL simulation, cycles and MAC utilisation."""

import dataclasses
import json

__all__ = ["run_utilisation", "bench"]


def run_utilisation(config, *, tiles, k, sim, out_dir, seed=None):
    """Run the tensor core's utilisation test on ``config``; return its report dictionary.

    ``tiles`` full tiles of depth ``k`` stream back to back with every stream valid and ready;
    the testbench checks every result against numpy and counts cycles from the first operand
    handshake to the last result handshake.
    """
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


def bench(out_dir, sim):
    """Measure the tensor core; write ``tensor.json`` and ``tensor.md`` into ``out_dir``."""
    from hdl.config import TensorCoreConfig, get_config
    cases = [
        ("fpga 8x8", get_config("fpga").tensor, 16, 256),
        ("16x16", TensorCoreConfig(rows=16, cols=16), 16, 256),
        ("br100 T-core 32x32x2", get_config("br100").tensor, 16, 512),
    ]
    from sim.simulators import available_simulators
    results = []
    for label, cfg, tiles, k in cases:
        case_sim = sim
        if cfg.rows * cfg.cols >= 1024 and "icarus" in available_simulators():
            # Verilator's C++ build of a 1024-PE flat design takes far longer than Icarus
            # needs to simulate the run (about 3 minutes).
            case_sim = "icarus"
        print(f"[bench] tensor {label}: {tiles} back-to-back tiles, K={k}", flush=True)
        report = run_utilisation(cfg, tiles=tiles, k=k, sim=case_sim,
                                 out_dir=out_dir / "tensor" / label.replace(" ", "_"))
        report.update(case=label, single_tile_cycles=cfg.tile_cycles(k // cfg.k_per_beat),
                      fill_cycles=cfg.fill_cycles, drain_cycles=cfg.drain_cycles)
        results.append(report)
    peaks = [get_config(name).peak_figures() for name in ("fpga", "br104", "br100")]
    lines = ["# Tensor core benchmark", "",
             f"Simulator: {sim} (Icarus for arrays of 1024 PEs). Cycles are counted in RTL "
             "simulation from the first operand handshake to the last result handshake; "
             "utilisation = useful MACs / (MAC/cycle x cycles). Every result is checked "
             "against numpy.", "",
             "| case | array (rows x cols x MAC/PE) | simulator | tiles | K | cycles | one tile "
             "alone (cycles) | utilisation |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['case']} | {r['rows']}x{r['cols']}x{r['k_per_beat']} | {r['sim']} "
                     f"| {r['tiles']} "
                     f"| {r['k']} | {r['cycles']} | {r['single_tile_cycles']} | "
                     f"{r['utilisation']:.4f} |")
    lines += ["", "| config | tensor cores | INT8 MAC/cycle per T-core | INT8 MAC/cycle | "
              "INT8 TOPS at the config clock |", "|---|---|---|---|---|"]
    for p in peaks:
        lines.append(f"| {p['config']} | {p['tensor_cores']} | "
                     f"{p['int8_macs_per_cycle_per_tensor_core']} | {p['int8_macs_per_cycle']} "
                     f"| {p['int8_tops']:.1f} ({p['int8_tops_binary']:.0f} x 1024 GOPS) |")
    markdown = "\n".join(lines) + "\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tensor.json").write_text(json.dumps({"tensor": results, "peaks": peaks},
                                                    indent=2))
    (out_dir / "tensor.md").write_text(markdown)
    return {"tensor": results, "peaks": peaks, "markdown": markdown}
