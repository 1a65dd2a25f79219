"""memstrata's storage layer, in three layers: `core` (errors, domain values, records,
settings, pure functions), `infra` (the database and the model clients) and `stores` (the
tiers, the hot session state, tenants, keys, recall). It imports nothing else of ours."""
