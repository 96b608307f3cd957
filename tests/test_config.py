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
])
def test_tensor_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TensorCoreConfig(**kwargs)


def test_tensor_config_rejects_bad_types():
    with pytest.raises(TypeError, match="signed must be a bool"):
        TensorCoreConfig(signed="yes")
    with pytest.raises(TypeError, match="config must be a TensorCoreConfig"):
        TensorCore(config={"rows": 8})


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
