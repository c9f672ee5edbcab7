"""cocotb testbenches (imported only inside simulator processes) and golden models."""
