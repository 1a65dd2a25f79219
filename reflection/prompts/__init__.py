"""Versioned prompts, each with a typed response schema and a `VERSION` that the run ledger
and the evals record."""
