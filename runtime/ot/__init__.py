"""Numba-compiled optimal transport kernels (the hot path)."""
