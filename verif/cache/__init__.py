"""cocotb testbench of the L2 cache slice."""
