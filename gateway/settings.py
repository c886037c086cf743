"""Gateway settings (pydantic-settings): environment ``CROSSBLOCK_*``, a TOML config file, or the devnet.

On the devnet ``--country CC`` alone is enough: RPC URL, deployment, keystores and the import policy
come from the devnet state directory. Elsewhere a TOML file (``--config`` / ``CROSSBLOCK_CONFIG``)
holds the same keys as the fields below.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.errors import ConfigurationError
from ledger_node.record import Kind

DEFAULT_KIND_STATUS: dict[str, str] = {
    "STOLEN": "BLACKLISTED",
    "LOST": "BLACKLISTED",
    "INVALID": "BLACKLISTED",
    "DUPLICATED": "GREYLISTED",
}
STATUSES = ("WHITELISTED", "GREYLISTED", "BLACKLISTED")


class GatewaySettings(BaseSettings):
    """Everything one country's gateway needs."""

    model_config = SettingsConfigDict(env_prefix="CROSSBLOCK_", extra="forbid")

    country: str = Field(description="ISO 3166-1 alpha-2 code of the country this gateway serves")
    rpc_url: str = Field(default="http://127.0.0.1:8545", description="JSON-RPC URL of a ledger node")
    ledger_address: str = Field(description="address of the CrossBlockLedger contract")
    deploy_block: int = Field(default=0, ge=0, description="block the ledger was deployed in (sync start)")
    data_dir: Path = Field(description="directory for the gateway's database and state")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")
    signer_keystore: Path | None = Field(default=None, description="encrypted keystore of the batch signer")
    relayer_keystore: Path | None = Field(
        default=None, description="encrypted keystore paying for transactions"
    )
    keystore_password_file: Path | None = Field(
        default=None, description="file holding the keystore password"
    )
    keystore_password: str | None = Field(default=None, description="keystore password (prefer the file)")
    honours: list[str] = Field(default_factory=list, description="countries whose records apply here")
    kind_status: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_KIND_STATUS))
    batch_size: int = Field(default=1000, ge=1, le=10_000, description="records per batch")
    batch_max_age: float = Field(default=5.0, ge=0, description="seconds before a partial batch is cut")
    sync_chunk_blocks: int = Field(default=2_000, ge=1, description="blocks per eth_getLogs request")
    confirmations: int = Field(default=0, ge=0, description="blocks to wait before applying a batch")
    reorg_history: int = Field(default=256, ge=1, description="recent block hashes kept for reorg checks")
    unknown_equipment: str = Field(default="WHITELISTED", description="WHITELISTED or NOT_FOUND (404)")
    api_rate_limit: float = Field(
        default=10_000.0, gt=0, description="check requests per second per API key (token bucket, per worker)"
    )
    api_rate_burst: int = Field(default=20_000, ge=1, description="check requests an API key may burst")
    api_key_cache_seconds: float = Field(
        default=5.0, ge=0, description="how long a verified API key is cached (revocation delay)"
    )
    stats_flush_seconds: float = Field(
        default=1.0, gt=0, description="how often counted checks are written to the statistics tables"
    )
    ready_max_sync_lag: int = Field(
        default=20, ge=0, description="/readyz: blocks the sync cursor may trail the applicable chain head"
    )
    audit_sync_wait_seconds: float = Field(
        default=2.0, ge=0, description="POST /v1/audit/verify answers inline if the audit ends within this"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment variables override the config file / devnet values passed in."""
        return env_settings, init_settings, file_secret_settings

    @field_validator("country")
    @classmethod
    def _upper_country(cls, value: str) -> str:
        value = value.strip().upper()
        if len(value) != 2 or not value.isascii() or not value.isalpha():
            raise ValueError(f"country must be an ISO 3166-1 alpha-2 code, got {value!r}")
        return value

    @field_validator("kind_status")
    @classmethod
    def _check_policy(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, status in value.items():
            if kind not in Kind.__members__ or status not in STATUSES:
                raise ValueError(f"bad policy entry {kind} -> {status}")
        return value

    @property
    def database(self) -> str:
        """The effective database URL."""
        return self.database_url or f"sqlite:///{self.data_dir / 'gateway.sqlite'}"

    def password(self) -> str:
        """The keystore password from the file or the setting."""
        if self.keystore_password_file is not None:
            try:
                return self.keystore_password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read password file {self.keystore_password_file}: {exc}"
                ) from exc
        if self.keystore_password is not None:
            return self.keystore_password
        raise ConfigurationError(
            "no keystore password: set keystore_password_file or CROSSBLOCK_KEYSTORE_PASSWORD"
        )

    def blocking_kinds(self) -> dict[int, str]:
        """Kind number → status, for kinds that are not WHITELISTED."""
        return {int(Kind[k]): s for k, s in self.kind_status.items() if s != "WHITELISTED"}


def load_settings(*, country: str, config: Path | None = None, **overrides: Any) -> GatewaySettings:
    """Settings from a TOML file if given, else from the devnet state; environment overrides apply."""
    values: dict[str, Any] = {}
    if config is not None:
        try:
            values.update(tomllib.loads(config.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read config file {config}: {exc}") from exc
    else:
        values.update(devnet_values(country))
    values["country"] = country
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return GatewaySettings(**values)
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from exc


def devnet_values(country: str) -> dict[str, Any]:
    """Settings for ``country`` derived from the devnet's deployment file and state directory."""
    from ledger_node.devnet import Devnet
    from ledger_node.errors import CrossBlockError

    devnet = Devnet()
    try:
        deployment = devnet.deployment()
    except CrossBlockError as exc:
        raise ConfigurationError(f"{exc} (or pass --config for a non-devnet gateway)") from exc
    cc = country.strip().upper()
    entry = deployment.countries.get(cc)
    if entry is None:
        known = ", ".join(sorted(deployment.countries))
        raise ConfigurationError(f"country {cc} is not on the devnet (devnet countries: {known})")
    return {
        "rpc_url": deployment.rpc_url,
        "ledger_address": deployment.ledger,
        "deploy_block": deployment.deploy_block,
        "data_dir": devnet.root / "gateways" / cc,
        "signer_keystore": devnet.keystore_path(cc, "signer"),
        "relayer_keystore": devnet.keystore_path(cc, "relayer"),
        "keystore_password_file": devnet.password_file,
        "honours": entry.get("honours") or sorted(deployment.countries),
    }
