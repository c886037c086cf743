"""Gateway services: the operations behind the CLI and the HTTP API (no I/O rendering here)."""
