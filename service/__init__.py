"""Entry points: the composition root, REST API and CLI (MCP server and client to come)."""
