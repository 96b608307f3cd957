"""Unit tests of the die-to-die link's pieces: CRC taps, configuration, elaboration."""

import numpy as np
import pytest

from hdl.link.d2d import D2DConfig, D2DLink, d2d_config
from hdl.link.d2d.crc import crc16_taps
from hdl.link.d2d.flit import flit_layout, idle_pattern, train_pattern
from sim.runner import to_verilog
from verif.link.harness import LinkPair
from verif.models.crc import crc16, crc16_matrix
from verif.models.flit import FLIT_BR100, FLIT_FPGA, idle_payload, train_payload


def _crc_from_taps(data):
    width = 8 * len(data)
    message = int.from_bytes(data, "big")
    return sum((bin(message & mask).count("1") & 1) << bit
               for bit, mask in enumerate(crc16_taps(width)))


def test_crc_taps_check_value():
    assert _crc_from_taps(b"123456789") == 0xFEE8


@pytest.mark.parametrize("fmt", [FLIT_FPGA, FLIT_BR100], ids=["fpga", "br100"])
def test_crc_taps_match_model(fmt):
    """The RTL's XOR trees equal the golden model's CRC and its GF(2) matrix, bit for bit."""
    nbytes = fmt.header_bytes + fmt.payload_bytes
    width = 8 * nbytes
    matrix = crc16_matrix(width)  # row i: CRC bit 15 - i; column j: message bit j sent
    taps = crc16_taps(width)      # taps[c]: CRC bit c; bit k: message bit width - 1 - k
    for c in range(16):
        row = matrix[15 - c]
        from_taps = np.array([taps[c] >> (width - 1 - j) & 1 for j in range(width)])
        assert np.array_equal(row, from_taps), c
    rng = np.random.default_rng(7)
    for _ in range(50):
        data = rng.bytes(nbytes)
        assert _crc_from_taps(data) == crc16(data)


def test_presets_and_bandwidth():
    br100 = d2d_config("br100")
    assert br100.flit_bytes == 68 and br100.beats_per_flit == 1
    assert br100.payload_bytes_per_second == pytest.approx(896e9)
    assert br100.raw_bytes_per_second == pytest.approx(952e9)
    fpga = d2d_config("fpga")
    assert fpga.flit_bytes == 12 and fpga.beats_per_flit == 3
    assert d2d_config("br104") == br100
    with pytest.raises(ValueError, match="config must be one of"):
        d2d_config("nope")


@pytest.mark.parametrize("field, value, message", [
    ("payload_bytes", 12, "payload_bytes must be a power of two"),
    ("lanes", 0, "lanes must be a positive integer"),
    ("lane_bits", 5, "lanes \\* lane_bits must divide"),
    ("replay_depth", 32, "replay_depth must be from 1 to 31"),
    ("rx_credits", 16, "rx_credits must be from 2 to 15"),
    ("replay_timeout", 4, "replay_timeout must be"),
    ("retrain_errors", 1, "retrain_errors must be"),
    ("train_flits", 0, "train_flits must be"),
    ("modules", 0, "modules must be"),
    ("clock_hz", 0, "clock_hz must be a positive finite number, not 0"),
    ("clock_hz", True, "clock_hz must be a positive finite number, not True"),
    ("clock_hz", float("inf"), "clock_hz must be a positive finite number, not inf"),
])
def test_config_validation(field, value, message):
    with pytest.raises(ValueError, match=message):
        D2DConfig(**{field: value})


def test_component_rejects_bad_config():
    with pytest.raises(TypeError, match="config must be a D2DConfig"):
        D2DLink(config="fpga")
    with pytest.raises(TypeError, match="config must be a D2DConfig"):
        LinkPair(config=None)


def test_patterns_never_zero():
    for nbytes in (4, 8, 64):
        assert any(idle_pattern(nbytes))
        assert train_pattern(nbytes, True) != train_pattern(nbytes, False)
        assert flit_layout(nbytes).size == 8 * (nbytes + 4)


@pytest.mark.parametrize("fmt", [FLIT_FPGA, FLIT_BR100], ids=["fpga", "br100"])
def test_patterns_match_model(fmt):
    """CTRL and TRAIN payloads (with the credit advertisement) are the golden model's."""
    nbytes = fmt.payload_bytes
    assert bytes(idle_pattern(nbytes)) == idle_payload(fmt)
    for locked in (False, True):
        for limits in ((0, 0), (3, 250), (255, 17)):
            assert bytes(train_pattern(nbytes, locked, limits)) == train_payload(
                fmt, locked=locked, credit_limits=limits)


@pytest.mark.parametrize("name", ["fpga", "br100"])
def test_elaborates(name):
    text = to_verilog(D2DLink(config=d2d_config(name)), "d2d")
    assert "module d2d" in text and "lane_tx" in text
