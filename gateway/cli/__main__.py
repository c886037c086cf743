"""`python -m gateway.cli`: the `crossblock` command (guarded: the syncer's workers re-import it)."""

from gateway.cli.main import app

if __name__ == "__main__":
    app()
