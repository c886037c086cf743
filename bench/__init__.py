"""Micro-benchmarks (``make bench``). Plain wall-clock timing; nothing here asserts on times."""
