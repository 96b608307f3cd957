"""Configuration objects: validation at construction and the derived peak figures."""

import pytest

from hdl.config import ChipConfig, TensorCoreConfig, config_names, get_config
from hdl.tensor import TensorCore


@pytest.mark.parametrize("kwargs,message", [
    ({"rows": 3}, "rows must be a power of two from 2 to 64"),
    ({"rows": 128}, "rows must be a power of two from 2 to 64"),
    ({"cols": 1}, "cols must be a power of two from 2 to 64"),
    ({"cols": 8.0}, "cols must be a power of two"),
    ({"k_per_beat": 3}, "k_per_beat must be 1 or 2"),
    ({"k_per_beat": 2.0}, "k_per_beat must be 1 or 2, not 2.0"),
    ({"k_per_beat": 1.0}, "k_per_beat must be 1 or 2, not 1.0"),
    ({"k_per_beat": True}, "k_per_beat must be 1 or 2, not True"),
])
def test_tensor_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TensorCoreConfig(**kwargs)


def test_tensor_config_rejects_bad_types():
    with pytest.raises(TypeError, match="signed must be a bool"):
        TensorCoreConfig(signed="yes")
    with pytest.raises(TypeError, match="config must be a TensorCoreConfig"):
        TensorCore(config={"rows": 8})


CHIP = {"name": "fpga", "dies": 1, "spc_per_die": 1, "eu_per_spc": 1, "clock_hz": 100e6}


@pytest.mark.parametrize("kwargs,error,message", [
    ({"name": "mychip"}, ValueError, "name must be one of fpga, br104, br100, not 'mychip'"),
    ({"name": None}, ValueError, "name must be one of fpga, br104, br100, not None"),
    ({"dies": 0}, ValueError, "dies must be a positive integer, not 0"),
    ({"dies": True}, ValueError, "dies must be a positive integer, not True"),
    ({"spc_per_die": -3}, ValueError, "spc_per_die must be a positive integer, not -3"),
    ({"eu_per_spc": 1.5}, ValueError, "eu_per_spc must be a positive integer, not 1.5"),
    ({"clock_hz": -1}, ValueError, "clock_hz must be a positive finite number, not -1"),
    ({"clock_hz": float("inf")}, ValueError, "clock_hz must be a positive finite number"),
    ({"clock_hz": True}, ValueError, "clock_hz must be a positive finite number, not True"),
    ({"clock_hz": "1e9"}, ValueError, "clock_hz must be a positive finite number"),
    ({"tensor": "8x8"}, TypeError, "tensor must be a TensorCoreConfig, not '8x8'"),
    ({"tensor": None}, TypeError, "tensor must be a TensorCoreConfig, not None"),
])
def test_chip_config_rejects_bad_values(kwargs, error, message):
    with pytest.raises(error, match=message):
        ChipConfig(**(CHIP | kwargs))


def test_chip_config_accepts_every_named_configuration():
    assert ChipConfig(**CHIP).tensor == TensorCoreConfig()
    for name in config_names():
        chip = get_config(name)
        assert ChipConfig(name=name, dies=chip.dies, spc_per_die=chip.spc_per_die,
                          eu_per_spc=chip.eu_per_spc, clock_hz=chip.clock_hz,
                          tensor=chip.tensor) == chip


def test_unknown_config_name():
    with pytest.raises(ValueError, match="config must be one of fpga, br104, br100"):
        get_config("br200")
    assert config_names() == ["fpga", "br104", "br100"]


def test_br100_peak_figures_reproduce_the_brief():
    br100 = get_config("br100")
    assert isinstance(br100, ChipConfig)
    assert br100.tensor_cores == 2 * 16 * 16 == 512
    # 2048 INT8 MAC per T-core per cycle, as derived in the brief.
    assert br100.tensor.int8_macs_per_cycle == 2048
    figures = br100.peak_figures()
    # 2048 TOPS in the table is 2^21 GOPS (2 x 512 x 2048 MAC x 1 GHz = 2,097 decimal TOPS).
    assert figures["int8_tops_binary"] == 2048
    assert figures["int8_tops"] == pytest.approx(2097.152)
    br104 = get_config("br104")
    assert br104.int8_macs_per_cycle * 2 == br100.int8_macs_per_cycle


def test_tile_timing_formula():
    cfg = TensorCoreConfig(rows=8, cols=8)
    assert cfg.fill_cycles == 17 and cfg.drain_cycles == 8
    assert cfg.tile_cycles(256) == 256 + 17 + 8 - 1
    assert cfg.min_beats_per_tile() == 25


def test_peak_figures_per_precision_reproduce_the_brief():
    """Per-precision peaks against the brief's figures, computed independently of the RTL."""
    # BRIEF.md: 2 tiles x 16 SPC x 16 EU, one T-core per EU, 1 GHz; 2048 TOPS INT8 and
    # 1024 TFLOPS BF16, in units of 2^10 G(FL)OPS; a MAC is two operations.
    t_cores, clock_ghz = 2 * 16 * 16, 1.0

    def per_t_core(tera_binary):
        return tera_binary * 1024 / (2 * t_cores * clock_ghz)

    figures = get_config("br100").peak_figures()
    assert figures["tensor_cores"] == t_cores
    assert figures["int8_macs_per_cycle_per_tensor_core"] == per_t_core(2048) == 2048
    assert figures["fp_int8_macs_per_cycle_per_tensor_core"] == per_t_core(2048)
    assert figures["bf16_macs_per_cycle_per_tensor_core"] == per_t_core(1024) == 1024
    assert figures["bf16_macs_per_cycle"] == t_cores * 1024
    assert figures["bf16_tflops_binary"] == 1024
    # FP16 at the BF16 rate. TF32+ and FP32: published at 512 and 256 TFLOPS; our array runs
    # every format at one MAC per PE per cycle, so ours are 2x and 4x those.
    assert figures["fp16_macs_per_cycle_per_tensor_core"] == per_t_core(1024)
    assert figures["tf32_macs_per_cycle_per_tensor_core"] == per_t_core(1024)
    assert figures["tf32p_macs_per_cycle_per_tensor_core"] == 2 * per_t_core(512)
    assert figures["fp32_macs_per_cycle_per_tensor_core"] == 4 * per_t_core(256)
    # BR104 is half a BR100, per precision.
    br104 = get_config("br104").peak_figures()
    for precision in ("bf16", "fp16", "tf32", "tf32p", "fp32", "fp_int8", "int8"):
        assert 2 * br104[f"{precision}_macs_per_cycle"] == figures[f"{precision}_macs_per_cycle"]
        assert br104[f"{precision}_macs_per_cycle_per_tensor_core"] == \
            figures[f"{precision}_macs_per_cycle_per_tensor_core"]


def test_fpga_peak_figures_follow_the_arrays():
    figures = get_config("fpga").peak_figures()
    # The FP core's fpga preset: 4x4 PEs, BF16 and INT8 (two INT8 MACs per PE); two dies.
    assert figures["fp_tensor_core_array"] == "4x4"
    assert figures["bf16_macs_per_cycle_per_tensor_core"] == 4 * 4
    assert figures["fp_int8_macs_per_cycle_per_tensor_core"] == 4 * 4 * 2
    assert figures["bf16_macs_per_cycle"] == 2 * 16
    assert "fp32_macs_per_cycle" not in figures
