"""`python -m gateway.cli`: the `crossblock` command (guarded: the syncer's workers re-import it)."""

from gateway.cli.entry import main

if __name__ == "__main__":
    main()
