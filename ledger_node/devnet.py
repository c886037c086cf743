"""The local devnet: an anvil node with persisted state, the contracts deployed, countries registered.

Everything lives in one git-ignored state directory (``.devnet/`` by default, or
``CROSSBLOCK_DEVNET_DIR``): anvil's state file and log, the deployment file, and per country the
encrypted keystores of its admin, signer and relayer keys with the password file beside them.
``up`` is idempotent; ``down`` stops anvil gracefully so it dumps its state, and the next ``up``
reloads it: every published batch is kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_node.accounts import load_account
from ledger_node.client import LedgerClient
from ledger_node.errors import CrossBlockError, DeploymentError, NodeUnavailableError
from ledger_node.paths import ANVIL_BIN, REPO_ROOT
from ledger_node.signer import create_keystore

DEFAULT_PORT = 8545
DEVNET_CHAIN_ID = 31337
COUNTRIES_FILE = REPO_ROOT / "devnet" / "countries.toml"
# anvil's first well-known development account: public test key, funds the devnet only.
ANVIL_FUNDER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ROLES = ("admin", "signer", "relayer")
# The devnet's keystores use a light scrypt so CLI commands start quickly; production keystores
# created with `crossblock keys` use eth-account's standard work factor.
DEVNET_SCRYPT_N = 2**12
FUNDING_WEI = 1_000 * 10**18


class DevnetError(CrossBlockError):
    """The devnet cannot be started, stopped or read."""


@dataclass(frozen=True)
class CountryConfig:
    """One country of devnet/countries.toml."""

    code: str
    name: str
    port: int
    honours: tuple[str, ...]


def load_countries(path: Path = COUNTRIES_FILE) -> list[CountryConfig]:
    """Read devnet/countries.toml."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DevnetError(f"cannot read {path}: {exc}") from exc
    return [
        CountryConfig(code=cc, name=c["name"], port=int(c["port"]), honours=tuple(c.get("honours", [])))
        for cc, c in data["countries"].items()
    ]


@dataclass
class Deployment:
    """The deployment file: where the ledger is and which keys each country holds."""

    rpc_url: str
    chain_id: int
    ledger: str
    deploy_block: int
    countries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON form (camelCase keys)."""
        return {
            "network": "devnet",
            "rpcUrl": self.rpc_url,
            "chainId": self.chain_id,
            "ledger": self.ledger,
            "deployBlock": self.deploy_block,
            "countries": self.countries,
        }

    @classmethod
    def load(cls, path: Path) -> Deployment:
        """Read a deployment file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                rpc_url=data["rpcUrl"],
                chain_id=int(data["chainId"]),
                ledger=data["ledger"],
                deploy_block=int(data["deployBlock"]),
                countries=data["countries"],
            )
        except FileNotFoundError as exc:
            raise DeploymentError(f"no deployment file at {path}: run `crossblock devnet up` first") from exc
        except (OSError, ValueError, KeyError) as exc:
            raise DeploymentError(f"unreadable deployment file {path}: {exc}") from exc

    def save(self, path: Path) -> None:
        """Write atomically."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)


class Devnet:
    """Manage the devnet rooted at ``root``."""

    def __init__(self, root: Path | None = None, *, port: int | None = None) -> None:
        env_root = os.environ.get("CROSSBLOCK_DEVNET_DIR")
        self.root = (root or (Path(env_root) if env_root else REPO_ROOT / ".devnet")).resolve()
        env_port = os.environ.get("CROSSBLOCK_DEVNET_PORT")
        self.port = port or (int(env_port) if env_port else DEFAULT_PORT)

    # ------------------------------------------------------------------ paths
    @property
    def rpc_url(self) -> str:
        """JSON-RPC URL of the devnet node."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_file(self) -> Path:
        """anvil's persisted chain state."""
        return self.root / "anvil-state.json"

    @property
    def pid_file(self) -> Path:
        """PID of the running anvil."""
        return self.root / "anvil.pid"

    @property
    def log_file(self) -> Path:
        """anvil's output."""
        return self.root / "anvil.log"

    @property
    def deployment_file(self) -> Path:
        """The deployment file."""
        return self.root / "deployment.json"

    @property
    def password_file(self) -> Path:
        """Password of the devnet keystores."""
        return self.root / "keys" / "password"

    def keystore_path(self, country: str, role: str) -> Path:
        """Encrypted keystore of a country's ``admin``, ``signer`` or ``relayer`` key."""
        return self.root / "keys" / country / f"{role}.json"

    # ---------------------------------------------------------------- process
    def pid(self) -> int | None:
        """PID of our anvil if it is alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def rpc_alive(self) -> bool:
        """Whether a node answers on the devnet port."""
        try:
            return bool(Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 2})).is_connected())
        except Exception:
            return False

    def _start_anvil(self) -> None:
        if not ANVIL_BIN.exists():
            raise DevnetError(f"anvil not found at {ANVIL_BIN}: run `make setup`")
        if self.rpc_alive():
            raise DevnetError(f"port {self.port} is taken by another node; set CROSSBLOCK_DEVNET_PORT")
        self.root.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(ANVIL_BIN),
            "--port", str(self.port),
            "--host", "127.0.0.1",
            "--chain-id", str(DEVNET_CHAIN_ID),
            "--hardfork", "prague",
            "--state", str(self.state_file),
            "--state-interval", "10",
            "--preserve-historical-states",
            "--gas-limit", "60000000",
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DevnetError(f"anvil exited with code {proc.returncode}; see {self.log_file}")
            if self.rpc_alive():
                return
            time.sleep(0.1)
        raise DevnetError(f"anvil did not answer on {self.rpc_url} within 30 s; see {self.log_file}")

    def down(self, *, timeout: float = 60.0) -> bool:
        """Stop anvil, letting it write its state. Returns False if it was not running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            _reap(pid)
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    # ----------------------------------------------------------------- up/set
    def up(self, *, progress: Callable[[str], None] = lambda _msg: None) -> Deployment:
        """Start (or reuse) anvil and make sure the contracts and countries are deployed."""
        if self.pid() is None:
            progress(f"starting anvil on {self.rpc_url} (state in {self.state_file})")
            self._start_anvil()
        else:
            progress(f"anvil already running (pid {self.pid()})")
        w3 = Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 60}))
        if self.deployment_file.exists():
            deployment = Deployment.load(self.deployment_file)
            if w3.eth.get_code(Web3.to_checksum_address(deployment.ledger)):
                progress(f"ledger already deployed at {deployment.ledger}")
                return deployment
            raise DevnetError(
                f"deployment file names {deployment.ledger} but the node has no code there "
                f"(its state was lost); remove {self.root} to start a fresh devnet"
            )
        return self._deploy(w3, progress)

    def _deploy(self, w3: Web3, progress: Callable[[str], None]) -> Deployment:
        countries = load_countries()
        password = self._password()
        funder: LocalAccount = Account.from_key(ANVIL_FUNDER_KEY)
        keys: dict[str, dict[str, LocalAccount]] = {}
        for country in countries:
            progress(f"creating encrypted keystores for {country.code} ({country.name})")
            keys[country.code] = {}
            for role in ROLES:
                path = self.keystore_path(country.code, role)
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.exists():
                    create_keystore(path, password, iterations=DEVNET_SCRYPT_N)
                keys[country.code][role] = load_account(path, password)
        progress("funding admin and relayer accounts")
        nonce: int = w3.eth.get_transaction_count(funder.address)
        hashes = []
        for country in countries:
            for role in ("admin", "relayer"):
                tx: dict[str, Any] = {
                    "to": keys[country.code][role].address,
                    "value": FUNDING_WEI,
                    "gas": 21_000,
                    "gasPrice": w3.eth.gas_price * 2,
                    "nonce": nonce,
                    "chainId": DEVNET_CHAIN_ID,
                }
                hashes.append(w3.eth.send_raw_transaction(funder.sign_transaction(tx).raw_transaction))
                nonce += 1
        for h in hashes:
            w3.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.05)
        progress("deploying CrossBlockLedger")
        founding = [(c.code, keys[c.code]["admin"].address) for c in countries]
        ledger = LedgerClient.deploy(w3, deployer=funder, founding=founding)
        deploy_block = int(w3.eth.block_number)
        for country in countries:
            k = keys[country.code]
            progress(f"registering signer {k['signer'].address} for {country.code}")
            ledger.add_signer(sender=k["admin"], country=country.code, signer=k["signer"].address)
        deployment = Deployment(
            rpc_url=self.rpc_url,
            chain_id=DEVNET_CHAIN_ID,
            ledger=ledger.address,
            deploy_block=deploy_block,
            countries={
                c.code: {
                    "name": c.name,
                    "port": c.port,
                    "honours": list(c.honours),
                    **{role: keys[c.code][role].address for role in ROLES},
                    "keystores": {
                        role: str(self.keystore_path(c.code, role).relative_to(self.root)) for role in ROLES
                    },
                }
                for c in countries
            },
        )
        deployment.save(self.deployment_file)
        progress(f"deployment written to {self.deployment_file}")
        return deployment

    def _password(self) -> str:
        self.password_file.parent.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24))
            self.password_file.chmod(0o600)
        return self.password_file.read_text().strip()

    # ---------------------------------------------------------------- queries
    def deployment(self) -> Deployment:
        """The current deployment file."""
        return Deployment.load(self.deployment_file)

    def account(self, country: str, role: str) -> LocalAccount:
        """Decrypt one of a country's devnet keys."""
        path = self.keystore_path(country, role)
        if not path.exists():
            raise DevnetError(f"no {role} keystore for {country} at {path}: is {country} on the devnet?")
        return load_account(path, self._password())

    def client(self) -> LedgerClient:
        """A LedgerClient on the devnet ledger."""
        deployment = self.deployment()
        if not self.rpc_alive():
            raise NodeUnavailableError(
                f"devnet node not reachable at {self.rpc_url}: run `crossblock devnet up`"
            )
        return LedgerClient.connect(self.rpc_url, deployment.ledger)


def _reap(pid: int) -> None:
    """Collect a child's exit status if anvil was started by this process."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
