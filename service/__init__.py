"""Entry points: the composition root (`container`), the REST API (`api`, `routes`), the
CLI, the worker's supervisor, the MCP server, the Python client and the inspector (`ui/`)."""
