"""Check counters: in memory per request, written by the flush thread, at shutdown, or on demand."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from gateway.api.app import app_from_env
from gateway.errors import ConfigurationError
from gateway.services.stats import stats
from ledger_node.record import Kind
from tests.api.conftest import Api, imei


def totals(api: Api) -> dict[str, int]:
    with api.app.state.api.context.sessions() as s:
        figures = stats(s, country="BR")
    return dict(figures["checks"]["by_status"])


def test_counts_are_written_at_shutdown(make_api: Callable[..., Api]):
    api = make_api()
    api.ledger.publish("IN", [(imei(1), Kind.STOLEN)])
    for device in (imei(1), imei(2), imei(1)):
        api.client.get(f"/v1/devices/{device}", headers=api.auth("operator"))
    assert api.app.state.api.checks.pending() == 3
    assert totals(api) == {"WHITELISTED": 0, "GREYLISTED": 0, "BLACKLISTED": 0}
    api.client.__exit__(None, None, None)  # lifespan shutdown
    assert api.app.state.api.checks.pending() == 0
    assert totals(api) == {"WHITELISTED": 1, "GREYLISTED": 0, "BLACKLISTED": 2}


def test_the_flush_thread_writes_counts_while_serving(make_api: Callable[..., Api]):
    api = make_api(stats_flush_seconds=0.05)
    api.client.get(f"/n5g-eir-eic/v1/equipment-status?pei=imei-{imei(3)}", headers=api.auth("operator"))
    deadline = time.monotonic() + 30
    while totals(api)["WHITELISTED"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert totals(api)["WHITELISTED"] == 1
    assert api.app.state.api.checks.pending() == 0


def test_counts_survive_a_failed_flush(make_api: Callable[..., Api]):
    api = make_api()
    api.client.get(f"/v1/devices/{imei(4)}", headers=api.auth("operator"))
    engine = api.app.state.api.context.engine
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE check_stats RENAME TO check_stats_away")
    with pytest.raises(Exception, match="check_stats"):
        api.flush_checks()
    assert api.app.state.api.checks.pending() == 1  # put back, retried at the next flush
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE check_stats_away RENAME TO check_stats")
    assert api.flush_checks() == 1
    assert totals(api)["WHITELISTED"] == 1


def test_app_factory_needs_a_country(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CROSSBLOCK_COUNTRY", raising=False)
    with pytest.raises(ConfigurationError, match="CROSSBLOCK_COUNTRY"):
        app_from_env()
