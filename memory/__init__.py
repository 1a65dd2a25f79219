"""memstrata's storage layer: settings, errors, domain values, the schema, the tier stores,
embedders and hybrid recall. It imports nothing else of ours."""
