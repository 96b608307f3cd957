"""The brgpu command line: Verilog output that lints and compiles, port tables, errors."""

import json
import os
import shutil
import subprocess

import pytest

from sim.simulators import setup_verilator
from synth.cli import main


def test_verilog_lints_and_compiles(tmp_path, capsys):
    assert main(["verilog", "tensor_core", "-o", str(tmp_path)]) == 0
    source = tmp_path / "tensor_core.v"
    assert source.exists() and "module tensor_core" in source.read_text()
    assert str(source) in capsys.readouterr().out
    if setup_verilator() is not None:
        lint = subprocess.run(["verilator", "--lint-only", "-Wno-fatal", str(source)],
                              capture_output=True, text=True, env=os.environ.copy())
        assert lint.returncode == 0, lint.stderr
        assert "%Error" not in lint.stderr
    if shutil.which("iverilog"):
        build = subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "a.vvp"),
                                str(source)], capture_output=True, text=True)
        assert build.returncode == 0, build.stderr


@pytest.mark.parametrize("argv,names", [
    (["verilog", "bogus"], "tensor_core"),
    (["ports", "bogus"], "tensor_core"),
    (["verilog", "tensor_core", "--config", "huge"], "fpga, br104, br100"),
    (["synth", "tensor_core", "--device", "xc7"], "ecp5-85f, ice40-up5k"),
    (["config", "huge"], "fpga, br104, br100"),
])
def test_bad_names_exit_2_with_one_line(argv, names, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert names in err


@pytest.mark.parametrize("seed", ["x", "-3", "2147483648"])
def test_bad_seed_exits_2_naming_the_range(seed, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synth", "tensor_core", "--device", "ecp5-85f", "--seed", seed])
    assert exc.value.code == 2
    assert "--seed: must be an integer from 0 to 2**31 - 1" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--seeds", "5-2"], "--seeds: must be a comma-separated list"),
    (["--seeds", "x"], "--seeds: must be a comma-separated list"),
    (["--seeds", "1,1"], "--seeds: must name at most 64 distinct seeds"),
    (["--seeds", "0-64"], "--seeds: must name at most 64 distinct seeds"),
    (["--seeds", "0-2147483647"], "--seeds: must name at most 64 distinct seeds"),
    (["--seed", "1", "--seeds", "2"], "not allowed with argument"),
    (["--jobs", "0"], "--jobs: must be a positive integer"),
])
def test_bad_sweep_exits_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synth", "tensor_core", "--device", "ecp5-85f", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_seed_list_parses_ranges():
    from synth.cli import _seed_list
    assert _seed_list("default,1-3,9") == [None, 1, 2, 3, 9]


def test_ports_json(capsys):
    assert main(["ports", "tensor_core", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["a__payload"]["width"] == 8 * 8 + 1
    assert rows["a__payload"]["stream"] == "a"
    assert rows["a__ready"]["direction"] == "output"
    assert rows["c__payload"]["width"] == 8 * 32 + 3 + 1
    assert [f["field"] for f in rows["c__payload"]["fields"]] == ["data", "row", "last"]


def test_br100_tensor_core_elaborates(tmp_path):
    assert main(["verilog", "tensor_core", "--config", "br100", "-o", str(tmp_path)]) == 0
    text = (tmp_path / "tensor_core.v").read_text()
    assert "input [512:0] a__payload" in text


def test_config_prints_peaks(capsys):
    assert main(["config", "br100", "--json"]) == 0
    (fig,) = json.loads(capsys.readouterr().out)
    assert fig["int8_macs_per_cycle_per_tensor_core"] == 2048


def test_synth_tensor_core_ecp5(tmp_path, capsys, monkeypatch):
    """Out-of-context ECP5-85F flow of `brgpu synth tensor_core`: every MAC on a MULT18X18D.

    The command runs as a user runs it; only the named configuration's array is shrunk to 4x2
    (8 MACs), which keeps the place-and-route short in the regression. The full `fpga` 8x8 core
    (64 MULT18X18D) is `make synth`.
    """
    import dataclasses

    import hdl.blocks
    from hdl.config import TensorCoreConfig, get_config

    def small(name):
        return dataclasses.replace(get_config(name), tensor=TensorCoreConfig(rows=4, cols=2))

    monkeypatch.setattr(hdl.blocks, "get_config", small)
    assert main(["synth", "tensor_core", "--device", "ecp5-85f", "-o", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["dsps"] == 4 * 2
    assert report["luts"] > 0 and report["ffs"] > 0
    assert report["fmax_mhz"] > 0
    out = capsys.readouterr().out
    assert "Fmax" in out and (tmp_path / "report.md").exists()
