"""cocotb regression of the HBM stack wrapper on every selected simulator."""

import pytest

from hdl.hbm.stack import HBMStack
from sim.runner import run_cocotb, to_verilog
from tests.conftest import simulators
from verif.hbm.tb import stack_design


@pytest.mark.parametrize("sim", simulators())
def test_hbm_stack(sim):
    """2 pseudo-channels (FCFS, closed page), a JEDEC-checking device model on each, random
    traffic under stress; also the only test of the FCFS closed-page controller."""
    verilog = to_verilog(HBMStack(config=stack_design("stack2")), "hbm_stack")
    run_cocotb(verilog_text=verilog, toplevel="hbm_stack",
               test_module="verif.hbm.test_hbm_stack", sim=sim,
               testcase="test_stack_random_traffic", params={"design": "stack2"})


def test_stack_config_checks():
    from hdl.hbm.config import HBMControllerConfig, controller_config
    from hdl.hbm.stack import HBMStackConfig, stack_config
    channel = controller_config("fpga")
    for bad in ({"channels": 3}, {"channels": 1}, {"channel_bit": 5}, {"channel_bit": 17},
                {"memory": "dram"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            HBMStackConfig(channel=channel, **bad)
    with pytest.raises(TypeError, match="channel"):
        HBMStackConfig(channel=None)
    with pytest.raises(TypeError, match="config"):
        HBMStack(config=channel)
    with pytest.raises(ValueError, match="refresh"):
        HBMControllerConfig(refresh="sometimes")
    with pytest.raises(TypeError, match="auto_precharge"):
        HBMControllerConfig(auto_precharge=1)
    assert stack_config("br100").channels == 16 and stack_config("br100").channel_bit == 6
    # The interleaver: consecutive lines on consecutive channels, split/join inverse.
    config = HBMStackConfig(channel=channel, channels=4, channel_bit=8)
    assert config.addr_width == channel.addr_width + 2
    for addr in (0, 0x40, 0x100, 0x1c0, 0x3ff, 0x12345, (1 << config.addr_width) - 1):
        ch, local = config.split(addr)
        assert config.join(ch, local) == addr
        assert ch == (addr >> 8) & 3 and local < 1 << channel.addr_width
    default = HBMStackConfig(channel=channel, channels=4)
    assert [default.split(k * 64)[0] for k in range(6)] == [0, 1, 2, 3, 0, 1]
