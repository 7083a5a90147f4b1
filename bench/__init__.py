"""Benchmarks that print figures (`make bench`). Never timed assertions: these machines are shared."""
