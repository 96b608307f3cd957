"""cocotb self-test: the stream monitor passes a good producer and catches each broken one."""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

from verif.stream import CycleCounter, StreamMonitor, StreamProtocolError, StreamSink


@cocotb.test()
async def test_monitor(dut):
    """Run the producer against random backpressure; the monitor must flag exactly the bugs."""
    mode = json.loads(os.environ["BRGPU_PARAMS"])["mode"]
    rng = random.Random(cocotb.RANDOM_SEED)
    Clock(dut.clk, 10, unit="ns").start()
    counter = CycleCounter(dut.clk)
    cocotb.start_soon(counter.run())
    sink = StreamSink(dut, "o", dut.clk, 16, rng=rng, ready_prob=0.3, reset=dut.rst)
    monitor = StreamMonitor(dut, "o", dut.clk, 16, reset=dut.rst)
    caught = []

    async def watch():
        try:
            await monitor.run(counter)
        except StreamProtocolError as error:
            caught.append(str(error))

    dut.rst.value = 1
    cocotb.start_soon(sink.run(counter))
    cocotb.start_soon(watch())
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 300)
    dut._log.info("mode %s: %d beats, monitor said %r", mode, sink.count, caught)
    if mode == "good":
        assert not caught, caught
        assert list(sink.received) == list(range(sink.count)), "beats lost or reordered"
    else:
        assert caught, f"the monitor missed a {mode} bug"
        assert "at cycle" in caught[0]
        expected = "valid dropped" if mode == "drop_valid" else "payload changed"
        assert expected in caught[0], caught[0]
