"""cocotb tests of the HBM stack wrapper: all pseudo-channels at once, a device model on each.

Run through ``tests/test_hbm_stack.py``; ``BRGPU_PARAMS`` names the stack design
(:data:`verif.hbm.tb.STACK_DESIGNS`). Every random choice comes from the logged seed.
"""

import cocotb

from hdl.hbm.frontend import MemOp
from verif.hbm.tb import HBMTB, address_of, params_from_env, soak_factor, stack_design

READ, WRITE = MemOp.READ, MemOp.WRITE


def _stack_requests(tb, count):
    """Yield sequential runs over all channels, random lines, hot lines and row conflicts."""
    stack, cfg, rng = tb.stack, tb.config, tb.np_rng
    line = cfg.line_bytes
    lines = tb.capacity // line
    hot = [int(a) * line for a in rng.integers(0, lines, 8)]
    lines_per_row = cfg.geometry.columns // cfg.bursts_per_line
    sent = 0
    while sent < count:
        kind = rng.choice(["sequential", "random", "hot", "conflict"], p=[0.3, 0.3, 0.2, 0.2])
        if kind == "sequential":
            start = int(rng.integers(0, lines - 32))
            addrs = [(start + k) * line for k in range(32)]
        elif kind == "random":
            addrs = [int(a) * line for a in rng.integers(0, lines, 16)]
        elif kind == "hot":
            addrs = [hot[int(rng.integers(0, len(hot)))] for _ in range(8)]
        else:
            channel = int(rng.integers(0, stack.channels))
            bank = int(rng.integers(0, cfg.geometry.banks))
            addrs = [stack.join(channel, address_of(cfg, bank, int(rng.integers(0, 4)),
                                                    int(rng.integers(0, lines_per_row))))
                     for _ in range(8)]
        for addr in addrs:
            if rng.random() < 0.5:
                mask = (1 << line) - 1
                if rng.random() < 0.3:
                    mask = int(rng.integers(0, 1 << 62)) | (int(rng.integers(0, 4)) << 62)
                yield (WRITE, addr, None, mask)
            else:
                yield (READ, addr)
            sent += 1


@cocotb.test()
async def test_stack_random_traffic(dut):
    """Random traffic over the whole stack under stress; all channels busy at the same time."""
    params = params_from_env()
    stack = stack_design(params["design"])
    tb = HBMTB(dut, stack.channel, stack=stack)
    await tb.start()
    for device in tb.devices:
        device.log_commands = True
    count = 400 * soak_factor()
    await tb.run(_stack_requests(tb, count))
    await tb.drain(count * 100 + 5000)
    tb.check_image()
    # Every channel served bursts, and in some 32-cycle windows all of them issued a column
    # command: the channels work in parallel behind the one front end.
    window = 32
    busy = []
    for device in tb.devices:
        cycles = {c // window for c, cmd, *_ in device.commands if cmd.name in ("RD", "RDA",
                                                                             "WR", "WRA")}
        assert cycles, "a channel never issued a column command"
        busy.append(cycles)
    together = set.intersection(*busy)
    total = max(max(b) for b in busy) + 1
    dut._log.info("%d requests, %d reads checked; per channel RD+WR %s; all %d channels "
                  "active in %d of %d %d-cycle windows", tb.sent, tb.scoreboard.matched,
                  [d.model.reads + d.model.writes for d in tb.devices], stack.channels,
                  len(together), total, window)
    assert len(together) >= total // 10, (len(together), total)
