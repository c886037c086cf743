"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary directory, a free port.

The server runs as an unprivileged user when the tests run as root (PostgreSQL refuses root):
``postgres`` if that account exists (the Debian package creates it), else ``nobody``. Each test gets
a clean migrated database: one shared database emptied before each test (:meth:`fresh_database`,
about ten times cheaper than creating one), or a database of its own (:meth:`database`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

#: Set (by ``make test``) to make a missing PostgreSQL a test failure rather than a skip.
REQUIRE_ENV = "CROSSBLOCK_REQUIRE_POSTGRES"
#: Directory of initdb/pg_ctl/postgres to use instead of searching PATH and /usr/lib/postgresql.
BIN_ENV = "CROSSBLOCK_PG_BIN"
#: Where the Debian packages put each PostgreSQL version's binaries.
SEARCH_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "crossblock"
SHARED = "crossblock_test"
#: Temporary directory of a cluster, and the file in it naming the pid of the test session.
ROOT_PREFIX, OWNER_FILE = "crossblock-pg-", "owner.pid"


class PostgresUnavailableError(RuntimeError):
    """The PostgreSQL server binaries cannot be found or the server does not start."""


def find_bindir() -> Path:
    """Directory holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    candidates: list[Path] = []
    if os.environ.get(BIN_ENV):
        candidates.append(Path(os.environ[BIN_ENV]))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)

    def version(p: Path) -> int:
        return int(p.name) if p.name.isdigit() else 0

    versions = sorted(SEARCH_ROOT.glob("*"), key=version, reverse=True)
    candidates += [v / "bin" for v in versions]
    for d in candidates:
        if all((d / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return d
    raise PostgresUnavailableError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH, in "
        f"{SEARCH_ROOT}/*/bin or in ${BIN_ENV}; install them with `make postgres-tools` "
        "(apt-get install postgresql)"
    )


def _server_user() -> str | None:
    """The account to run the server as, or None to run it as ourselves (not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailableError("running as root and neither a postgres nor a nobody account exists")


def stop_orphans(bindir: Path) -> None:
    """Stop and remove the clusters of test sessions that died without stopping theirs (killed)."""
    for root in Path(tempfile.gettempdir()).glob(ROOT_PREFIX + "*"):
        try:
            owner = int((root / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours to judge
        try:
            os.kill(owner, 0)
            continue  # its session is still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        if (root / "data" / "postmaster.pid").exists():
            pg_ctl = [str(bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w", "stop"]
            user = _server_user()
            cmd = pg_ctl if user is None else ["runuser", "-u", user, "--", *pg_ctl]
            subprocess.run(cmd, capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


class PostgresServer:
    """A running cluster; :meth:`database` hands out fresh migrated databases."""

    def __init__(self, bindir: Path, port: int) -> None:
        self.bindir = bindir
        self.port = port
        self.user = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self._names = itertools.count(1)
        self._shared_ready = False

    # ---------------------------------------------------------------------------------- lifecycle
    def _run(self, *args: str) -> None:
        cmd = [str(a) for a in args]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root, check=False)
        if done.returncode != 0:
            raise PostgresUnavailableError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        """initdb and start the server (fsync off: a test cluster needs no durability)."""
        stop_orphans(self.bindir)
        (self.root / OWNER_FILE).write_text(str(os.getpid()))
        self.socket_dir.mkdir()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server log (for failure messages)."""
        try:
            return "\n".join((self.root / "server.log").read_text().splitlines()[-lines:])
        except OSError:
            return ""

    # ---------------------------------------------------------------------------------- databases
    def url(self, name: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        """SQLAlchemy URL of database ``name``."""
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def _admin(self, sql: str) -> None:
        with psycopg.connect(self.url(driver="postgresql"), autocommit=True) as conn:
            conn.execute(sql)

    def fresh_database(self) -> str:
        """URL of the shared migrated database, emptied: every other connection to it is ended, tables
        truncated (identities restarted), and triggers and functions the last test added dropped."""
        url = self.url(SHARED)
        if not self._shared_ready:
            from gateway.db.engine import make_engine, migrate

            self._admin(f"CREATE DATABASE {SHARED}")
            engine = make_engine(url)
            try:
                migrate(engine)
            finally:
                engine.dispose()
            self._shared_ready = True
            return url
        with psycopg.connect(self.url(SHARED, driver="postgresql"), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            triggers = conn.execute(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND NOT t.tgisinternal"
            ).fetchall()
            for trigger, table in triggers:
                conn.execute(f'DROP TRIGGER "{trigger}" ON "{table}"')
            functions = conn.execute(
                "SELECT p.oid::regprocedure::text FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
            ).fetchall()
            for (function,) in functions:
                conn.execute(f"DROP FUNCTION {function}")
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables "
                    "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            ]
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
        return url

    def create_database(self) -> str:
        """A new, empty database (not migrated); returns its SQLAlchemy URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self._admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database of ``url`` (connections still open to it are terminated)."""
        name = url.rsplit("/", 1)[1]
        if not re.fullmatch(r"t\d+_\d+", name):
            raise ValueError(f"not a test database: {name}")
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A new, empty database of its own for the duration of the block."""
        url = self.create_database()
        try:
            yield url
        finally:
            self.drop_database(url)
