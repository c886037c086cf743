"""API keys and roles (401/403), the per-key rate limit (429), and the `crossblock keys` commands."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.api.auth import KeyCache, RateLimiter, create_api_key, revoke_api_key
from gateway.cli.main import app as cli
from gateway.db.engine import make_engine, migrate, session_factory
from gateway.db.models import ApiKey
from tests.api.conftest import Api, imei

PROBLEM = "application/problem+json"
DEVICE = imei(1)

#: (method, path, json body, roles admitted besides admin)
ENDPOINTS = [
    ("POST", "/v1/reports", {"imei": DEVICE, "kind": "STOLEN"}, {"regulator"}),
    ("POST", f"/v1/reports/{DEVICE}/recovery", None, {"regulator"}),
    ("GET", "/v1/batches", None, {"regulator"}),
    ("GET", f"/v1/devices/{DEVICE}", None, {"operator"}),
    ("POST", "/v1/devices/check", {"imeis": [DEVICE]}, {"operator"}),
    ("GET", f"/n5g-eir-eic/v1/equipment-status?pei=imei-{DEVICE}", None, {"operator"}),
]
ROLES = ("regulator", "operator", "auditor", "admin")


@pytest.mark.parametrize(("method", "path", "body", "admitted"), ENDPOINTS)
def test_every_role_on_every_endpoint(api: Api, method, path, body, admitted):
    for role in ROLES:
        r = api.client.request(method, path, json=body, headers=api.auth(role))
        if role == "admin" or role in admitted:
            assert r.status_code not in (401, 403), (role, r.text)
        else:
            assert r.status_code == 403, role
            assert r.headers["content-type"] == PROBLEM
            problem = r.json()
            assert problem["type"] == "urn:crossblock:problem:forbidden"
            assert problem["status"] == 403
            assert problem["instance"] == path.split("?")[0]
            assert repr(role) in problem["detail"]


@pytest.mark.parametrize(("method", "path", "body", "admitted"), ENDPOINTS)
def test_missing_or_invalid_key_is_401_with_www_authenticate(api: Api, method, path, body, admitted):
    cases = [
        ({}, "unauthorized", 'Bearer realm="crossblock"'),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "unauthorized", 'Bearer realm="crossblock"'),
        ({"Authorization": "Bearer "}, "unauthorized", 'Bearer realm="crossblock"'),
        ({"Authorization": "Bearer cbk_not-a-key"}, "invalid-api-key", 'error="invalid_token"'),
    ]
    for headers, slug, challenge in cases:
        r = api.client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["content-type"] == PROBLEM
        assert challenge in r.headers["www-authenticate"]
        assert r.json()["type"] == f"urn:crossblock:problem:{slug}"


def test_only_the_hash_of_a_key_is_stored(api: Api):
    with api.app.state.api.context.sessions() as s:
        rows = {bytes(r.key_hash): r for r in s.scalars(select(ApiKey))}
    assert len(rows) == len(api.keys)
    for role, key in api.keys.items():
        row = rows[hashlib.sha256(key.encode()).digest()]
        assert row.role == role
        assert key.startswith(row.prefix)
        assert len(row.prefix) < len(key) // 3  # the prefix identifies the key, it does not reveal it
        for stored in (row.label, row.prefix, row.role):
            assert key not in stored


def test_a_revoked_key_is_refused(make_api):
    api = make_api(api_key_cache_seconds=0)
    h = api.auth("operator")
    assert api.client.get(f"/v1/devices/{DEVICE}", headers=h).status_code == 200
    with api.app.state.api.context.sessions.begin() as s:
        row = s.scalars(select(ApiKey).where(ApiKey.role == "operator")).one()
        revoke_api_key(s, key_id=row.id)
    r = api.client.get(f"/v1/devices/{DEVICE}", headers=h)
    assert r.status_code == 401
    assert r.json()["type"] == "urn:crossblock:problem:invalid-api-key"


def test_check_endpoints_are_rate_limited_per_key(make_api):
    api = make_api(api_rate_limit=0.01, api_rate_burst=3)
    h = api.auth("operator")
    paths = [f"/v1/devices/{DEVICE}", f"/n5g-eir-eic/v1/equipment-status?pei=imei-{DEVICE}"]
    answers = [api.client.get(paths[n % 2], headers=h) for n in range(3)]
    answers.append(api.client.post("/v1/devices/check", json={"imeis": [DEVICE]}, headers=h))
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert limited.headers["content-type"] == PROBLEM
    assert limited.json()["type"] == "urn:crossblock:problem:rate-limited"
    assert int(limited.headers["retry-after"]) >= 1
    # another key has its own bucket; the regulator endpoints are not limited
    other = {"Authorization": f"Bearer {api.new_key('operator')}"}
    assert api.client.get(paths[0], headers=other).status_code == 200
    for _ in range(5):
        assert api.client.get("/v1/batches", headers=api.auth("regulator")).status_code == 200


def test_token_bucket_refills_at_its_rate():
    now = [1000.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert limiter.take(1) == 0.0
    assert limiter.take(1) == 0.0
    wait = limiter.take(1)
    assert wait == pytest.approx(0.5)
    assert limiter.retry_after(wait) == "1"
    assert limiter.take(2) == 0.0  # other key, full bucket
    now[0] += 0.5
    assert limiter.take(1) == 0.0
    assert limiter.take(1) > 0
    now[0] += 100
    assert limiter.take(1) == 0.0
    assert limiter.take(1) == 0.0  # refilled to the burst, not beyond
    assert limiter.take(1) > 0


def test_key_cache_remembers_known_and_unknown_keys_for_their_ttl(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'k.sqlite'}")
    migrate(engine)
    sessions = session_factory(engine)
    now = [0.0]
    cache = KeyCache(sessions, ttl=5, negative_ttl=1, clock=lambda: now[0])
    assert cache.lookup("cbk_unknown") is None
    with sessions.begin() as s:
        key, row = create_api_key(s, role="auditor", label="a")
        key_id = row.id
    principal = cache.lookup(key)
    assert principal is not None
    assert (principal.key_id, principal.role, principal.label) == (key_id, "auditor", "a")
    with sessions.begin() as s:
        revoke_api_key(s, key_id=key_id)
    assert cache.lookup(key) == principal  # cached
    now[0] += 6
    assert cache.lookup(key) is None
    engine.dispose()


def test_keys_cli_create_list_revoke(tmp_path):
    config = tmp_path / "gw.toml"
    config.write_text(
        f'ledger_address = "0x{"11" * 20}"\ndata_dir = "{tmp_path / "data"}"\nhonours = ["BR"]\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    common = ["--country", "BR", "--config", str(config)]
    made = runner.invoke(
        cli, ["keys", "create", "--role", "operator", "--name", "core-eir", *common, "--json"]
    )
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    assert created["role"] == "operator"
    assert created["name"] == "core-eir"
    assert created["key"].startswith("cbk_")
    listed = runner.invoke(cli, ["keys", "list", *common, "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["role"], r["name"], r["revoked_at"]) for r in rows] == [
        (created["id"], "operator", "core-eir", None)
    ]
    assert created["key"] not in listed.stdout
    shown = runner.invoke(cli, ["keys", "create", "--role", "admin", *common])
    assert shown.exit_code == 0
    assert "cbk_" in shown.stdout
    assert "Shown once" in shown.stdout
    revoked = runner.invoke(cli, ["keys", "revoke", str(created["id"]), *common])
    assert revoked.exit_code == 0, revoked.output
    rows = json.loads(runner.invoke(cli, ["keys", "list", *common, "--json"]).stdout)
    assert rows[0]["revoked_at"] is not None
    bad_role = runner.invoke(cli, ["keys", "create", "--role", "root", *common])
    assert bad_role.exit_code == 2
    missing = runner.invoke(cli, ["keys", "revoke", "999", *common])
    assert missing.exit_code == 1
    assert "no API key with id 999" in missing.output
    long_name = runner.invoke(cli, ["keys", "create", "--role", "operator", "--name", "x" * 129, *common])
    assert long_name.exit_code == 1
    assert "at most 128 characters" in long_name.output
