"""The `crossblock` console script's entry point, kept light on purpose.

The syncer verifies big catch-ups in worker processes started with ``spawn``, and every spawned
worker re-imports the program's main module. The generated console script imports this module at
its top and calls :func:`main` only under ``if __name__ == "__main__"``, so a worker imports nothing
but this file (and then what its task needs), not the whole CLI with web3 and the HTTP stack.
"""

from __future__ import annotations


def main() -> None:
    """Run the `crossblock` command line."""
    from gateway.cli.main import app

    app()
