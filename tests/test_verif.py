"""The verification pieces themselves: payload packing, scoreboard, stream monitor."""

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from sim.runner import run_cocotb, to_verilog
from tests.conftest import simulators
from verif.payload import decode, encode
from verif.scoreboard import Scoreboard, ScoreboardError
from verif.selftest.producer import MODES, CountingProducer


def test_payload_round_trip():
    layout = data.StructLayout({
        "data": data.ArrayLayout(data.ArrayLayout(signed(8), 2), 3),
        "row": unsigned(3),
        "last": 1,
    })
    value = {"data": [[-128, 127], [0, -1], [5, -7]], "row": 6, "last": 1}
    word = encode(layout, value)
    assert word >> 48 == 0b1110
    assert (word & 0xFF) == 0x80 and (word >> 8) & 0xFF == 0x7F
    assert decode(layout, word) == value


def test_payload_rejects_bad_values():
    with pytest.raises(ValueError, match="does not fit"):
        encode(signed(8), 128)
    with pytest.raises(ValueError, match="missing"):
        encode(data.StructLayout({"a": 1, "b": 1}), {"a": 1})
    with pytest.raises(ValueError, match="elements"):
        encode(data.ArrayLayout(8, 2), [1])


def test_scoreboard():
    board = Scoreboard("rows")
    board.expect(np.array([1, 2]))
    board.expect({"x": 1}, key=7)
    board.check({"x": 1}, key=7)
    with pytest.raises(ScoreboardError, match="mismatch"):
        board.check(np.array([1, 3]))
    with pytest.raises(ScoreboardError, match="unexpected"):
        board.check(1)
    board.expect(5)
    with pytest.raises(ScoreboardError, match="never arrived"):
        board.finish()


def test_producer_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        CountingProducer(mode="bogus")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sim", simulators())
def test_stream_monitor_catches_violations(sim, mode):
    verilog = to_verilog(CountingProducer(mode=mode), f"producer_{mode}")
    result = run_cocotb(verilog_text=verilog, toplevel=f"producer_{mode}",
                        test_module="verif.selftest.test_stream_monitor", sim=sim,
                        params={"mode": mode})
    # The cached build keeps what the next run needs and not the compiler's intermediates.
    leftovers = [p.name for p in result["build_dir"].iterdir()
                 if p.suffix in (".gch", ".o", ".a", ".d")]
    assert leftovers == []
    assert (result["build_dir"] / ".built").exists()


def test_verilator_cxx_opt(monkeypatch):
    from sim.simulators import verilator_cxx_opt, verilator_make_flags
    monkeypatch.setenv("BRGPU_VERILATOR_CXX_OPT", "-O3")
    assert verilator_cxx_opt() == "-O3"
    monkeypatch.setenv("BRGPU_VERILATOR_CXX_OPT", "fast")
    with pytest.raises(ValueError, match="BRGPU_VERILATOR_CXX_OPT must be one of default, -O0"):
        verilator_cxx_opt()
    monkeypatch.delenv("BRGPU_VERILATOR_CXX_OPT")
    assert verilator_cxx_opt() == "default"
    monkeypatch.setenv("MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O2")
    assert verilator_make_flags("-O0").split() == [
        "CFG_CXXFLAGS_PCH_I=-include", "OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"]
    assert verilator_make_flags("default") == "CFG_CXXFLAGS_PCH_I=-include"
