"""cocotb verification of the HBM controller: device model on the PHY, testbench, tests."""
