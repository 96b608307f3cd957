"""Testbench of the die-to-die link: two link ends joined by a cocotb wire-channel model."""
