"""Benchmarks: each ``bench_<topic>.py`` prints its figures beside a baseline from the same run."""
