"""The stores: one module per table or concern, each owning the statements that write
its table — the tiers, the session rows and hot state, tenants, keys, users, recall,
history and the background backlog. Import `memory.infra` and `memory.core`."""
