"""`crossblock serve`: run this country's HTTP API (FastAPI on uvicorn).

One worker runs the app object in-process. Several workers (``--workers N``) make uvicorn start N
processes that each import the app factory ``gateway.api.app:app_from_env``, which reads
``CROSSBLOCK_COUNTRY`` / ``CROSSBLOCK_CONFIG`` (set here from the options). The database is migrated
once, before the workers start. Rate limits and check counters are per worker.

Unless ``--no-background``, the serving process also runs the gateway's background loops
(:mod:`gateway.services.workers`): the publisher, which sends reports accepted over HTTP to the
ledger, and the syncer, which applies every country's batches. They run once per gateway, in the
process that supervises the HTTP workers, never once per worker.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn

from gateway.api.app import create_app
from gateway.api.http_protocol import CoalescingHttpToolsProtocol
from gateway.cli.common import ConfigOpt, CountryOpt, clean_errors, err_console, gateway
from gateway.services.workers import GatewayWorkers

HostOpt = Annotated[str, typer.Option("--host", envvar="CROSSBLOCK_HOST", help="Address to listen on.")]
PortOpt = Annotated[
    int, typer.Option("--port", "-p", envvar="CROSSBLOCK_PORT", min=0, max=65535, help="TCP port.")
]
WorkersOpt = Annotated[
    int, typer.Option("--workers", "-w", envvar="CROSSBLOCK_WORKERS", min=1, help="Worker processes.")
]


@clean_errors
def serve(
    country: CountryOpt,
    config: ConfigOpt = None,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    workers: WorkersOpt = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    background: Annotated[
        bool,
        typer.Option(
            "--background/--no-background",
            envvar="CROSSBLOCK_BACKGROUND",
            help="Also run the publisher and syncer loops (off: run `crossblock publish/sync` yourself).",
        ),
    ] = True,
    interval: Annotated[
        float, typer.Option("--interval", min=0.05, help="Seconds between publisher/syncer runs when idle.")
    ] = 1.0,
) -> None:
    """Serve the HTTP API: regulator, operator, 3GPP N5g-eir and auditor endpoints.

    OpenAPI documentation at http://HOST:PORT/docs. Stop with Ctrl-C (SIGINT) or SIGTERM: requests
    in flight finish and every worker shuts down cleanly. Exit codes: 0 after a clean stop (with one
    worker, uvicorn re-raises the stopping signal once done, so the shell sees 130 or 143), 1 on a
    configuration error.
    """
    with gateway(country, config) as ctx:
        ctx.engine  # noqa: B018 (migrate the database once, before any worker starts)
        err_console.print(
            f"gateway {ctx.settings.country}: http://{host}:{port}/docs ({workers} worker(s)"
            + (", publisher and syncer running)" if background else ")"),
            highlight=False,
        )
        loops = GatewayWorkers(ctx, interval=interval) if background else None
        if loops is not None:
            loops.start()
        try:
            if workers == 1:
                uvicorn.run(
                    create_app(ctx),
                    host=host,
                    port=port,
                    access_log=access_log,
                    log_level=log_level,
                    workers=1,
                    http=CoalescingHttpToolsProtocol,
                )
                return
            os.environ["CROSSBLOCK_COUNTRY"] = country
            if config is not None:
                os.environ["CROSSBLOCK_CONFIG"] = str(config.resolve())
            uvicorn.run(
                "gateway.api.app:app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                access_log=access_log,
                log_level=log_level,
                http=CoalescingHttpToolsProtocol,
            )
        finally:
            if loops is not None:
                loops.stop()
