"""Bit-exact numpy golden models. Imports nothing from cocotb or Amaranth."""
