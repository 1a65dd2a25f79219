"""Infrastructure: the database (embedded Postgres, the engine, row-level security and
the one transaction helper, the schema and its migrations) and the model clients (the
embedder, the LLM). Imports `memory.core` only."""
