"""Out-of-context FPGA synthesis flow: argument checks and real Yosys + nextpnr runs."""

import json
import time

import pytest
from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from synth.fpga import DEVICES, SynthReport, ooc_wrapper_verilog, synthesize


class Int8Mac(wiring.Component):
    """Registered INT8 multiply-accumulate: ``acc <= acc + a * b`` every cycle."""

    a: In(signed(8))
    b: In(signed(8))
    acc: Out(signed(32))

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.acc.eq(self.acc + self.a * self.b)
        return m


@pytest.fixture(scope="module")
def mac_verilog(tmp_path_factory):
    """Return the path of the INT8 MAC converted to Verilog as module ``mac``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AMARANTH_USE_YOSYS", "builtin")
        from amaranth.back import verilog

        text = verilog.convert(Int8Mac(), name="mac", emit_src=False)
    path = tmp_path_factory.mktemp("mac_src") / "mac.v"
    path.write_text(text)
    return path


def test_bad_device_is_rejected_before_any_tool(tmp_path):
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"device must be one of ecp5-85f, ice40-up5k.*'xc7a35t'"):
        synthesize(tmp_path / "missing.v", "mac", device="xc7a35t", out_dir=tmp_path / "out")
    assert time.monotonic() - started < 1.0
    assert not (tmp_path / "out").exists()


def test_bad_target_frequency_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="target_mhz"):
        synthesize(tmp_path / "x.v", "mac", device="ecp5-85f", out_dir=tmp_path, target_mhz=0)


@pytest.mark.parametrize("seed", [-1, 2**31, 1.5, "3", True])
def test_bad_seed_is_rejected_before_any_tool(seed, tmp_path):
    with pytest.raises(ValueError, match=r"seed must be None or an integer from 0 to 2\*\*31 - 1"):
        synthesize(tmp_path / "x.v", "mac", device="ecp5-85f", out_dir=tmp_path / "out",
                   seed=seed)
    assert not (tmp_path / "out").exists()


def test_seeded_placement_is_recorded(mac_verilog, tmp_path):
    report = synthesize(mac_verilog, "mac", device="ecp5-85f", out_dir=tmp_path, seed=7,
                        progress=lambda line: None)
    assert report.seed == 7 and report.dsps == 1 and report.meets_timing
    assert json.loads((tmp_path / "report.json").read_text())["seed"] == 7
    assert "nextpnr seed 7." in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize("kwargs,message", [
    ({"seed": 1, "seeds": [2]}, "give seed or seeds, not both"),
    ({"seeds": []}, "seeds must be None or a non-empty sequence of distinct seeds"),
    ({"seeds": [1, 1]}, "seeds must be None or a non-empty sequence of distinct seeds"),
    ({"seeds": [None, -1]}, "seeds must be None or a non-empty sequence of distinct seeds"),
    ({"seeds": "12"}, "seeds must be None or a non-empty sequence of distinct seeds"),
    ({"seeds": [1], "jobs": 0}, "jobs must be a positive integer"),
])
def test_bad_sweep_is_rejected_before_any_tool(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        synthesize(tmp_path / "x.v", "mac", device="ecp5-85f", out_dir=tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("device", ["ecp5-85f", "ice40-up5k"])
def test_seed_sweep_reports_the_fastest_placement(device, mac_verilog, tmp_path):
    lines = []
    report = synthesize(mac_verilog, "mac", device=device, out_dir=tmp_path,
                        seeds=[None, 3, 11], jobs=2, progress=lines.append)
    assert len(lines) == (1 if device == "ecp5-85f" else 2) + 3
    assert sorted(line.split("seed ")[-1].split(")")[0] for line in lines[-3:]) == \
        ["11", "3", "default"]
    assert list(report.placements) == ["default", "3", "11"]
    # Every placement is a run of its own, in its own folder, with its own report.
    for label, mhz in report.placements.items():
        own = json.loads((tmp_path / f"seed-{label}" / "nextpnr-report.json").read_text())
        assert mhz == pytest.approx(max(float(e["achieved"]) for e in own["fmax"].values()))
    assert report.fmax_mhz == max(report.placements.values())
    assert report.seed in (None, 3, 11)
    label = "default" if report.seed is None else str(report.seed)
    assert report.placements[label] == report.fmax_mhz
    assert (tmp_path / "nextpnr-report.json").read_text() == \
        (tmp_path / f"seed-{label}" / "nextpnr-report.json").read_text()
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["placements"] == report.placements and saved["seed"] == report.seed
    text = (tmp_path / "report.md").read_text()
    assert f"| {label} (reported) |" in text and "3 placements of the same netlist" in text


def test_sweep_markdown():
    report = SynthReport(
        device="ecp5-85f", top="blk", luts=1, ffs=1, brams=0, dsps=0, fmax_mhz=101.0,
        target_mhz=100.0, utilization={}, elapsed_s=1.0,
        available=dict(DEVICES["ecp5-85f"].resources), method="m", seed=2,
        placements={"default": 98.0, "1": 97.0, "2": 101.0, "3": 100.0},
    )
    text = report.to_markdown()
    assert "| 2 (reported) | 101.00 |" in text and "| default | 98.00 |" in text
    assert "mean 99.00 MHz, 2 of 4 reach 100 MHz" in text


def test_device_table():
    assert DEVICES["ecp5-85f"].resources == {"LUT4": 83_640, "FF": 83_640, "BRAM": 208, "DSP": 156}
    assert DEVICES["ice40-up5k"].resources["SPRAM"] == 4
    assert "--85k" in DEVICES["ecp5-85f"].nextpnr_args
    assert "--up5k" in DEVICES["ice40-up5k"].nextpnr_args


def test_wrapper_needs_three_pins():
    ports = [("a", "input", 8), ("clk", "input", 1), ("rst", "input", 1), ("acc", "output", 32)]
    text = ooc_wrapper_verilog("mac", ports)
    assert text.startswith("module mac_ooc(clk, ooc_sin, ooc_sout);")
    assert "reg [8:0] ooc_shift" in text
    assert "mac ooc_dut(.clk(clk), .a(ooc_shift[7:0]), .rst(ooc_shift[8:8])" in text
    # 32 captured bits -> 8 -> 2 -> 1: three registered XOR stages.
    assert "assign ooc_sout = ooc_xor3[0];" in text


def test_report_markdown_and_json():
    report = SynthReport(
        device="ecp5-85f", top="blk", luts=836, ffs=10, brams=0, dsps=0, fmax_mhz=95.0,
        target_mhz=100.0, utilization={}, elapsed_s=1.0,
        available=dict(DEVICES["ecp5-85f"].resources),
    )
    assert not report.meets_timing
    assert "| LUT4 | 836 | 83640 | 1.00% |" in report.to_markdown()
    assert report.seed is None and json.loads(report.to_json())["seed"] is None
    assert "FAIL" in report.to_markdown()
    assert json.loads(report.to_json())["meets_timing"] is False


@pytest.mark.parametrize("device", ["ecp5-85f", "ice40-up5k"])
def test_int8_mac_place_and_route(device, mac_verilog, tmp_path):
    lines = []
    report = synthesize(mac_verilog, "mac", device=device, out_dir=tmp_path,
                        progress=lines.append)
    steps = 2 if device == "ecp5-85f" else 3
    assert len(lines) == steps and lines[-1].startswith(f"[{steps}/{steps}] nextpnr-")
    assert report.device == device and report.top == "mac"
    assert report.dsps == 1  # the whole 8x8 signed multiply is one MULT18X18D / SB_MAC16
    assert report.brams == 0
    if device == "ecp5-85f":
        assert report.luts > 0  # the 32-bit accumulator adder is fabric carry logic
        assert report.ffs == 32
    assert report.fmax_mhz is not None and report.fmax_mhz > 0
    assert report.meets_timing  # a registered INT8 MAC is well over 100 MHz on both parts
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["dsps"] == 1 and saved["fmax_mhz"] == report.fmax_mhz
    assert "| DSP | 1 |" in (tmp_path / "report.md").read_text()
