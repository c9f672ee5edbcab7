"""Benchmarks: synthesis and throughput numbers per preset, with machine and tool versions."""
