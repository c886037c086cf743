"""A lying node, end to end through the command line: `crossblock sync` through a JSON-RPC proxy
that alters one byte of one record quarantines the batch and applies nothing of it (the country's
later batches wait behind it), and `crossblock audit verify` against the honest node fails loudly,
naming the batch. (tests/integration/test_sync.py covers the same through the services, and the
operator's release once the node is trusted again.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.db.models import CountryLog, LedgerBatch, LedgerRecord, QuarantinedBatch
from ledger_node.devnet import Devnet
from ledger_node.record import Kind
from tests.integration.gateways import DevnetGateway
from tests.integration.helpers import make_records, publish_next, random_imei
from tests.integration.rpc_proxy import rpc_proxy

pytestmark = pytest.mark.anvil

EXIT_QUARANTINED, EXIT_AUDIT_FAILED = 4, 5  # gateway/cli/common.py


def test_altered_record_is_quarantined_by_sync_and_audit_verify_fails(devnet: Devnet, tmp_path: Path) -> None:
    client = devnet.client()
    victim = random_imei("86")
    bad, _, _ = publish_next(
        devnet, client, "BR", make_records(3) + make_records(1, kind=Kind.STOLEN, imeis=[victim])
    )
    held, _, _ = publish_next(devnet, client, "BR", make_records(1, kind=Kind.LOST, imeis=[victim]))
    publish_next(devnet, client, "DE", make_records(1, kind=Kind.DUPLICATED, imeis=[victim]))
    gateway = DevnetGateway(devnet, "IN", tmp_path / "IN")
    assert {"BR", "DE"} <= set(gateway.settings.honours)

    with rpc_proxy(devnet.rpc_url) as proxy:
        proxy.tamper_record("BR", bad.seq, index=3, byte=5)
        run = gateway.run("sync", "--workers", "0", env={"CROSSBLOCK_RPC_URL": proxy.url})
    assert run.returncode == EXIT_QUARANTINED, (run.stdout, run.stderr)
    assert proxy.tampered[("BR", bad.seq)] >= 1
    assert "quarantined:" in run.stderr
    assert "records" in run.stderr  # the records hash does not match the signed header

    # Nothing of the altered batch, nor of BR's next one, was applied; DE's batch was.
    with gateway.sessions() as s:
        rejected = s.get(QuarantinedBatch, ("BR", bad.seq))
        assert rejected is not None
        assert (rejected.state, rejected.reason.split()[0]) == ("rejected", "[records-hash]")
        waiting = s.get(QuarantinedBatch, ("BR", held.seq))
        assert waiting is not None
        assert waiting.state == "held"
        log = s.get(CountryLog, "BR")
        assert (log.last_seq, log.blocked_seq) == (bad.seq - 1, bad.seq)
    assert gateway.count(LedgerBatch, LedgerBatch.country == "BR", LedgerBatch.seq >= bad.seq) == 0
    assert gateway.count(LedgerRecord, LedgerRecord.country == "BR", LedgerRecord.seq >= bad.seq) == 0
    assert gateway.count(LedgerBatch, LedgerBatch.country == "DE") == client.head_of("DE")[1]
    assert gateway.statuses([victim]) == {victim: ("GREYLISTED", "DE")}

    # Against the honest node the audit fails, naming the batch, and only BR's log differs.
    audit = gateway.audit()
    assert not audit.ok
    lines = audit.lines()
    rejected_line = f"BR#{bad.seq}: not applied: quarantined (rejected): [records-hash]"
    assert any(line.startswith(rejected_line) for line in lines), lines
    assert any(line.startswith(f"BR#{held.seq}: not applied: quarantined (held)") for line in lines), lines
    assert {d.country for d in audit.discrepancies} == {"BR"}
    run = gateway.run("audit", "verify")
    assert run.returncode == EXIT_AUDIT_FAILED, run.stderr
    assert "FAILED" in run.stdout
    assert rejected_line in run.stdout
    assert gateway.audit(country="DE").ok
