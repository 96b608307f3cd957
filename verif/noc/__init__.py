"""cocotb testbench and tests of the on-die mesh network."""
