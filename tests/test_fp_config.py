"""Construction checks and derived figures of the floating-point tensor core."""

import pytest

from hdl.tensor.fp import ADD_STEP_DELAYS, FPUnitHarness, register_boundaries
from hdl.tensor.fp_config import (
    FORMATS,
    PRECISIONS,
    FPTensorCoreConfig,
    Precision,
    fp_tensor_config,
)
from hdl.tensor.fp_core import FPTensorCore, fp_operand_layouts, fp_result_layout
from verif.models.fp import FORMATS as MODEL_FORMATS
from verif.payload import width


@pytest.mark.parametrize(("field", "value", "message"), [
    ("rows", 3, "rows must be a power of two"),
    ("cols", 128, "cols must be a power of two"),
    ("rows", True, "rows must be a power of two"),
    ("precisions", ("bf16", "int4"), "precisions must name formats"),
    ("precisions", ("bf16", "bf16"), "must not repeat"),
    ("mul_stages", 0, "mul_stages must be an integer from 1 to 4"),
    ("add_stages", 7, "add_stages must be an integer from 1 to 6"),
    ("precisions", ("int8",), "must include a floating-point format"),
    ("int8_macs_per_pe", 3, "int8_macs_per_pe must be 1 or 2"),
    ("int8_macs_per_pe", True, "int8_macs_per_pe must be 1 or 2"),
    ("int8_macs_per_pe", 2.0, "int8_macs_per_pe must be 1 or 2, not 2.0"),
])
def test_config_rejects_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        FPTensorCoreConfig(**{field: value})


def test_config_rejects_float_int8_macs_with_int8():
    with pytest.raises(ValueError, match="int8_macs_per_pe must be 1 or 2, not 2.0"):
        FPTensorCoreConfig(rows=2, cols=2, precisions=("bf16", "int8"), int8_macs_per_pe=2.0)


def test_config_rejects_bad_types():
    with pytest.raises(TypeError, match="precisions must be a non-empty tuple"):
        FPTensorCoreConfig(precisions=["bf16"])
    with pytest.raises(TypeError, match="precisions must be a non-empty tuple"):
        FPTensorCoreConfig(precisions=())
    with pytest.raises(TypeError, match="config must be an FPTensorCoreConfig"):
        FPTensorCore(config="fpga")
    with pytest.raises(ValueError, match="add_stages must be"):
        FPUnitHarness(add_stages=9)
    with pytest.raises(ValueError, match="config must be one of fpga, br104, br100"):
        fp_tensor_config("huge")
    with pytest.raises(ValueError, match="precision must be one of"):
        FPTensorCoreConfig.precision_code("int4")
    assert FPTensorCoreConfig.precision_code("int8") == Precision.INT8
    with pytest.raises(ValueError, match="precision must be one of bf16"):
        FPTensorCoreConfig().macs_per_cycle("fp32")


def test_formats_agree_with_the_model():
    # The RTL and the model define the formats separately; they must describe the same bits.
    for name, fmt in FORMATS.items():
        model = MODEL_FORMATS[name]
        assert (fmt.exp_bits, fmt.frac_bits, fmt.width) == \
            (model.exp_bits, model.frac_bits, model.width)
    assert {p.name.lower() for p in Precision} == \
        {"fp32", "tf32p", "tf32", "fp16", "bf16", "int8"}


@pytest.mark.parametrize(("precisions", "significand", "operand"), [
    (("bf16",), 8, 16), (("bf16", "fp16"), 11, 16), (("tf32",), 11, 19),
    (("tf32p", "bf16"), 16, 24), (tuple(FORMATS), 24, 32),
    (("bf16", "int8"), 8, 16), (PRECISIONS, 24, 32),
])
def test_widths_follow_the_widest_format(precisions, significand, operand):
    cfg = FPTensorCoreConfig(precisions=precisions)
    assert cfg.significand_width == significand
    assert cfg.operand_width == operand
    a, b = fp_operand_layouts(cfg)
    assert width(a) == 8 * operand
    assert width(b) == 8 * operand + 3 + 1


def test_timing_figures():
    cfg = FPTensorCoreConfig(rows=2, cols=2, precisions=tuple(FORMATS), mul_stages=2,
                             add_stages=3)
    assert cfg.interleave == 3 and cfg.tile_rows == 6
    assert cfg.fill_cycles == 2 + 2 + 2 + 3
    assert cfg.tile_cycles(10) == 30 + 9 + 6 - 1
    # Back to back: interleave * (K - 1) >= fill + drain - 1.
    k = cfg.min_k_per_tile()
    assert cfg.interleave * (k - 1) >= cfg.fill_cycles + cfg.drain_cycles - 1
    assert cfg.interleave * (k - 2) < cfg.fill_cycles + cfg.drain_cycles - 1
    assert width(fp_result_layout(cfg)) == 2 * 32 + 3 + 1


def test_int8_figures():
    cfg = FPTensorCoreConfig(rows=4, cols=2, precisions=("fp16", "int8"), mul_stages=2,
                             add_stages=3, int8_macs_per_pe=1)
    assert cfg.int8_lanes == 1 and cfg.has_int8 and cfg.float_precisions == ("fp16",)
    assert cfg.macs_per_cycle("int8") == cfg.macs_per_cycle("fp16") == 8
    assert cfg.operand_width == 16
    # An INT8 tile skips the adder: its fill is add_stages shorter.
    assert cfg.int8_fill_cycles == cfg.fill_cycles - 3 == 4 + 2 + 2
    assert cfg.tile_cycles(5, "int8") == cfg.tile_cycles(5) - 3
    two = FPTensorCoreConfig(precisions=("bf16", "int8"), int8_macs_per_pe=2)
    assert two.macs_per_cycle("int8") == 2 * two.macs_per_cycle("bf16") == 128
    # Without int8 built in, int8_macs_per_pe changes nothing.
    assert FPTensorCoreConfig(int8_macs_per_pe=1).operand_width == 16
    assert FPTensorCoreConfig().int8_lanes == 0


def test_named_configurations():
    fpga = fp_tensor_config("fpga")
    assert (fpga.rows, fpga.cols, fpga.precisions) == (4, 4, ("bf16", "int8"))
    assert fpga.macs_per_cycle("int8") == 32
    for name in ("br104", "br100"):
        cfg = fp_tensor_config(name)
        # BR100: 1024 BF16 and 2048 INT8 MAC per tensor core per cycle.
        assert cfg.macs_per_cycle("bf16") == 1024
        assert cfg.macs_per_cycle("int8") == 2048
        assert set(cfg.peak_figures()) == {f"{p}_macs_per_cycle" for p in PRECISIONS}


def test_register_boundaries():
    # Equal delays: boundaries spread evenly.
    assert register_boundaries(1, 4) == set()
    assert register_boundaries(2, 4) == {2}
    assert register_boundaries(4, 4) == {1, 2, 3}
    assert len(register_boundaries(3, 4)) == 2
    with pytest.raises(ValueError, match="stages must be from 1 to 4"):
        register_boundaries(5, 4)
    # Step delays: the registers balance the stages (largest stage delay as small as possible).
    assert register_boundaries(2, [5, 3, 4, 4]) == {2}
    assert register_boundaries(3, [1, 1, 6, 1]) == {2, 3}
    with pytest.raises(ValueError, match="stages must be from 1 to 6"):
        register_boundaries(7, ADD_STEP_DELAYS)
    for stages in range(1, len(ADD_STEP_DELAYS) + 1):
        assert len(register_boundaries(stages, ADD_STEP_DELAYS)) == stages - 1
