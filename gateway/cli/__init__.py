"""The `crossblock` command line (Typer)."""
