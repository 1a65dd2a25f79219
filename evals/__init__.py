"""Offline benchmarks and memory evals; they print numbers, they assert nothing."""
