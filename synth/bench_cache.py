"""Cache slice benchmark: hit latency and throughput, and what non-blocking buys.

Everything is measured by counting cycles in RTL simulation (the cocotb tests
``test_hit_latency_and_throughput`` and ``test_throughput`` of ``verif.cache``), with every
response checked against the golden model.
"""

import dataclasses
import json

__all__ = ["run_case", "bench"]


def run_case(config, testcase, *, sim, out_dir, seed=None, **params):
    """Run one measuring cocotb test of the cache slice on ``config``; return its report."""
    from hdl.cache import CacheSlice
    from sim.runner import run_cocotb, to_verilog
    out_dir.mkdir(parents=True, exist_ok=True)
    verilog = to_verilog(CacheSlice(config=config), "cache_slice")
    report_path = out_dir / f"{testcase}.json"
    report_path.unlink(missing_ok=True)
    result = run_cocotb(verilog_text=verilog, toplevel="cache_slice",
                        test_module="verif.cache.test_cache_slice", sim=sim, testcase=testcase,
                        params=dataclasses.asdict(config) | params, seed=seed,
                        extra_env={"BRGPU_REPORT": str(report_path)}, quiet=True)
    report = json.loads(report_path.read_text())
    report.update(sim=sim, seed=result["seed"])
    return report


def bench(out_dir, sim, *, requests=2000, mshr_counts=(1, 4, 32)):
    """Measure the ``fpga`` slice; write ``cache.json`` and ``cache.md`` into ``out_dir``.

    The miss-throughput cases use the ``fpga`` geometry with 1, 4 (the preset) and 32 (the
    ``br100`` preset's count) MSHRs, 10 % misses and a 100-cycle memory latency.
    """
    from hdl.cache import CacheConfig
    base = CacheConfig.fpga()
    print("[bench] cache: hit latency and throughput (fpga)", flush=True)
    timing = run_case(base, "test_hit_latency_and_throughput", sim=sim,
                      out_dir=out_dir / "cache" / "hits")
    cases = []
    for mshrs in mshr_counts:
        cfg = dataclasses.replace(base, mshrs=mshrs)
        print(f"[bench] cache: {requests} requests, 10 % misses, latency 100, {mshrs} MSHRs",
              flush=True)
        cases.append(run_case(cfg, "test_throughput", sim=sim,
                              out_dir=out_dir / "cache" / f"mshrs{mshrs}",
                              bench_requests=requests, miss_rate=0.1, bench_latency=100))
    lines = ["# Cache slice benchmark", "",
             f"Simulator: {sim}; `fpga` slice ({base.capacity // 1024} KiB, {base.ways}-way, "
             f"{base.line_bytes} B lines, {base.policy}). Cycles counted in RTL simulation; "
             "every response checked against the golden model.", "",
             f"- hit latency (request accepted to response valid): {timing['hit_latency']} "
             "cycles",
             f"- {timing['hits']} back-to-back hits: {timing['cycles']} cycles from the first "
             f"request accepted to the last response accepted "
             f"({timing['hits_per_cycle']:.3f} hits/cycle after the pipeline fills)",
             f"- the same {timing['hits']} hits through one line / two alternating sets: "
             f"{timing['cycles_same_line']} / {timing['cycles_two_sets']} cycles",
             f"- one miss with a 1-cycle memory: {timing['miss_latency_mem1']} cycles", "",
             "| MSHRs | requests | misses | memory latency | cycles | requests/cycle | "
             "speed-up vs 1 MSHR |", "|---|---|---|---|---|---|---|"]
    for case in cases:
        lines.append(f"| {case['mshrs']} | {case['requests']} | {case['misses']} | "
                     f"{case['memory_latency']} | {case['cycles']} | "
                     f"{case['requests_per_cycle']:.3f} | "
                     f"{cases[0]['cycles'] / case['cycles']:.2f} |")
    markdown = "\n".join(lines) + "\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"hits": timing, "miss_throughput": cases}
    (out_dir / "cache.json").write_text(json.dumps(result, indent=2))
    (out_dir / "cache.md").write_text(markdown)
    return result | {"markdown": markdown}
