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


def test_onchip_model_checks():
    """Bad read latencies name ``read_latency`` (or ``CL``) at construction; a bad address
    map names ``address_map`` whatever its elements are."""
    import dataclasses

    from hdl.hbm.config import HBMControllerConfig, controller_config
    from hdl.hbm.onchip import HBMOnChipMemory, HBMOnChipSystem
    from hdl.hbm.stack import HBMStackConfig
    channel = controller_config("fpga")
    for cls in (HBMOnChipMemory, HBMOnChipSystem):
        for bad in (1, 65, "14", True):
            with pytest.raises(ValueError, match="read_latency must be an integer from 2 to 64"):
                cls(config=channel, read_latency=bad)
    fast = HBMOnChipMemory(config=channel, read_latency=3)
    assert fast.read_latency == 3
    to_verilog(fast, "onchip_fast")   # (a built component that is never used warns)
    slow = dataclasses.replace(channel, timing=dataclasses.replace(channel.timing, CL=70))
    for cls in (HBMOnChipMemory, HBMOnChipSystem):
        with pytest.raises(ValueError, match="CL = 70"):
            cls(config=slow)
    with pytest.raises(ValueError, match="memory='onchip' needs the channel timing's CL"):
        HBMStackConfig(channel=slow, channels=2, memory="onchip")
    assert HBMStackConfig(channel=slow, channels=2, memory="phy").memory == "phy"
    for bad in (("bank_group", 1, "bank", "row"), ("bank_group", None, "bank", "row"),
                ("bank_group", ["column"], "bank", "row"),
                ("bank_group", "column", "bank", "row", "row")):
        with pytest.raises(ValueError, match="address_map"):
            HBMControllerConfig(address_map=bad)


@pytest.mark.parametrize("rows, columns", [(1, 1), (1, 32), (4, 1)])
def test_onchip_model_keeps_every_bank_apart(rows, columns):
    """One row or one column per bank: the model's array address still holds the whole bank
    number (the PHY's fields are a bit wide even when a count is 1). Amaranth's simulator: one
    burst written to every (bank, row, column), then every one read back."""
    from amaranth.sim import Simulator

    from hdl.hbm.config import HBMControllerConfig, HBMGeometry
    from hdl.hbm.onchip import HBMOnChipMemory
    from hdl.hbm.phy import ColCommand, RowCommand, beat_bytes
    config = HBMControllerConfig(geometry=HBMGeometry(rows=rows, columns=columns),
                                 line_bytes=32)
    geo, t = config.geometry, config.timing
    memory = HBMOnChipMemory(config=config)
    cycles, width = t.burst_cycles, beat_bytes(geo, t)
    places = [(b, r, c) for b in range(geo.banks) for r in range(rows) for c in range(columns)]

    def value(place, j):
        b, r, c = place
        return ((b * 131 + r * 17 + c * 7 + j) * 0x9E3779B1) & ((1 << (8 * width)) - 1)

    async def bench(ctx):
        phy = memory.phy
        for op in (ColCommand.WR, ColCommand.RD):
            for place in places:
                b, r, c = place
                ctx.set(phy.row_cmd.cmd, RowCommand.ACT)
                ctx.set(phy.row_cmd.bank, b)
                ctx.set(phy.row_cmd.row, r)
                await ctx.tick()
                ctx.set(phy.row_cmd.cmd, RowCommand.NOP)
                ctx.set(phy.col_cmd.cmd, op)
                ctx.set(phy.col_cmd.bank, b)
                ctx.set(phy.col_cmd.col, c)
                await ctx.tick()
                ctx.set(phy.col_cmd.cmd, ColCommand.NOP)
                if op == ColCommand.WR:
                    await ctx.tick().repeat(t.CWL - 1)
                    for j in range(cycles):
                        ctx.set(phy.wrdata.valid, 1)
                        ctx.set(phy.wrdata.mask, 0)
                        ctx.set(phy.wrdata.data, value(place, j))
                        await ctx.tick()
                    ctx.set(phy.wrdata.valid, 0)
                else:
                    await ctx.tick().repeat(memory.read_latency - 1)
                    for j in range(cycles):
                        assert ctx.get(phy.rddata.valid) == 1, (place, j)
                        assert ctx.get(phy.rddata.data) == value(place, j), (place, j)
                        await ctx.tick()
                await ctx.tick().repeat(t.CWL + cycles + 2)

    sim = Simulator(memory)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
