"""Benchmarks: ``make bench`` (``python -m bench.run``). Not tests, and not part of the app."""
