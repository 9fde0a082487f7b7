"""Benchmarks that print JSON; each compares against its reference in the same run."""
