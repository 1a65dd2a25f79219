"""The core of memory: errors, domain values and records, settings, and the pure
functions over them (crypto, SQL helpers, the lifecycle and loop decisions, the hot
session state's codec). Imports nothing else of memstrata."""
