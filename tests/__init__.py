"""memstrata tests: unit, integration on real Postgres + pgvector, and API."""
