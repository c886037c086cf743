"""gateway: the per-country CrossBlock service — national register, publisher, syncer, APIs and CLI."""
