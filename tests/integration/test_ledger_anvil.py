"""The ledger on a real anvil: publish, read back, verify; every rejection as its Python exception."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account

from ledger_node import contract_errors as ce
from ledger_node.batch import Batch, recover_signer, struct_hash
from ledger_node.client import LedgerClient, MemberStatus, ProposalKind
from ledger_node.devnet import Devnet
from ledger_node.merkle import MerkleTree, leaf_hash, verify_proof
from ledger_node.record import RECORD_SIZE, Kind
from ledger_node.signer import LocalSigner, sign_batch
from tests.integration.helpers import make_records, publish_next, signer_of

pytestmark = pytest.mark.anvil


@pytest.fixture
def client(fresh_devnet: Devnet) -> LedgerClient:
    return fresh_devnet.client()


def snapshot(client: LedgerClient, countries: tuple[str, ...] = ("IN", "BR", "KE", "DE")) -> dict[str, Any]:
    """Everything a rejected call must leave untouched."""
    return {
        "block": client.block_number(),
        "heads": {cc: client.head_of(cc) for cc in countries},
        "status": {cc: client.member_status(cc) for cc in countries},
    }


def assert_rejected(client: LedgerClient, exc_type: type[Exception], call: Callable[[], object]) -> Exception:
    before = snapshot(client)
    with pytest.raises(exc_type) as info:
        call()
    assert snapshot(client) == before, "a rejected call changed the chain"
    return info.value


def test_three_countries_publish_and_everything_verifies(fresh_devnet: Devnet, client: LedgerClient) -> None:
    published: dict[tuple[str, int], tuple[Batch, bytes, bytes]] = {}
    for round_ in range(2):
        for cc, n in (("IN", 50), ("BR", 7), ("KE", 1 + round_)):
            records = make_records(n)
            batch, sig, _ = publish_next(fresh_devnet, client, cc, records)
            published[(cc, batch.seq)] = (batch, sig, records)

    events = list(client.fetch_batches(from_block=0, chunk_size=3))
    assert {(e.country, e.seq) for e in events} == set(published)
    heads: dict[str, bytes] = {}
    for event in events:
        batch, sig, records = published[(event.country, event.seq)]
        assert event.records == records
        assert event.signature == sig
        assert event.count == batch.count
        header = Batch(
            event.country, event.seq, event.prev_head, event.records_hash, event.merkle_root, event.count
        )
        assert header == batch
        assert event.prev_head == heads.get(event.country, b"\x00" * 32), "head chain broken"
        heads[event.country] = struct_hash(header)
        signer = recover_signer(header, event.signature, client.chain_id, client.address)
        assert signer == event.signer == fresh_devnet.deployment().countries[event.country]["signer"]
        assert client.is_active_signer(event.country, signer, event.position.block_number)
        tree = MerkleTree.from_records(
            [records[i : i + RECORD_SIZE] for i in range(0, len(records), RECORD_SIZE)]
        )
        assert tree.root == event.merkle_root == client.batch_root(event.country, event.seq)
        for index in {0, event.count // 2, event.count - 1}:
            record = records[index * RECORD_SIZE : (index + 1) * RECORD_SIZE]
            proof = tree.proof(index)
            assert verify_proof(proof, tree.root, leaf_hash(index, record))
            assert client.verify_record(
                country=event.country, seq=event.seq, index=index, record=record, proof=proof
            )
            assert not client.verify_record(
                country=event.country, seq=event.seq, index=index + 1, record=record, proof=proof
            )
    for cc, head in heads.items():
        assert client.head_of(cc) == (head, 2)


def _next(client: LedgerClient, cc: str, records: bytes) -> Batch:
    head, seq = client.head_of(cc)
    return Batch.build(cc, seq + 1, head, records)


def test_every_publish_rejection_surfaces_and_stores_nothing(
    fresh_devnet: Devnet, client: LedgerClient
) -> None:
    net = fresh_devnet
    relayer = net.account("IN", "relayer")
    signer = signer_of(net, "IN")
    records = make_records(3)
    publish_next(net, client, "IN", records)
    good = _next(client, "IN", records)

    def send(
        batch: Batch, recs: bytes = records, sig: bytes | None = None, by: LocalSigner = signer
    ) -> Callable[[], object]:
        signature = sig if sig is not None else sign_batch(by, batch, client.chain_id, client.address)
        return lambda: client.publish(sender=relayer, batch=batch, records=recs, signature=signature)

    err = assert_rejected(client, ce.SeqMismatchError, send(dataclasses.replace(good, seq=good.seq + 1)))
    assert err.args_dict["expected"] == 2
    assert err.args_dict["got"] == 3
    assert_rejected(client, ce.SeqMismatchError, send(dataclasses.replace(good, seq=1)))  # replay
    assert_rejected(client, ce.HeadMismatchError, send(dataclasses.replace(good, prev_head=b"\x01" * 32)))
    assert_rejected(client, ce.EmptyBatchError, send(dataclasses.replace(good, count=0), b""))
    big = dataclasses.replace(good, count=10_001)
    assert_rejected(client, ce.BatchTooLargeError, send(big))
    assert_rejected(client, ce.RecordsLengthMismatchError, send(dataclasses.replace(good, count=4)))
    tampered = bytearray(records)
    tampered[5] ^= 0x01
    assert_rejected(client, ce.RecordsHashMismatchError, send(good, bytes(tampered)))
    malformed = bytearray(records)
    malformed[RECORD_SIZE] = 0x17  # identifier type 1, kind 7: unknown
    bad_batch = _next(client, "IN", bytes(malformed))
    err = assert_rejected(client, ce.MalformedRecordError, send(bad_batch, bytes(malformed)))
    assert err.args_dict["index"] == 1
    assert_rejected(client, ce.InvalidSignatureError, send(good, sig=b"\x00" * 65))
    stranger = LocalSigner(Account.create().key)
    assert_rejected(client, ce.SignerNotActiveError, send(good, by=stranger))
    assert_rejected(client, ce.SignerNotActiveError, send(good, by=signer_of(net, "BR")))  # wrong country
    # a relayer of another country may relay IN's correctly signed batch: the sender is not the signer
    client.publish(
        sender=net.account("DE", "relayer"),
        batch=good,
        records=records,
        signature=sign_batch(signer, good, client.chain_id, client.address),
    )
    assert client.head_of("IN") == (struct_hash(good), 2)


def test_revoked_signer_and_suspended_member_cannot_publish(
    fresh_devnet: Devnet, client: LedgerClient
) -> None:
    net = fresh_devnet
    admin = {cc: net.account(cc, "admin") for cc in ("IN", "BR", "KE", "DE")}
    old = signer_of(net, "IN")
    new = LocalSigner(Account.create().key)
    client.add_signer(sender=admin["IN"], country="IN", signer=new.address)
    publish_next(net, client, "IN", make_records(2), signer=new)
    revoked = client.revoke_signer(sender=admin["IN"], country="IN", signer=old.address)
    assert client.signer_info("IN", old.address)[1] == revoked.block_number
    assert_rejected(
        client, ce.SignerNotActiveError, lambda: publish_next(net, client, "IN", make_records(1), signer=old)
    )
    assert_rejected(
        client,
        ce.SignerAlreadyRevokedError,
        lambda: client.add_signer(sender=admin["IN"], country="IN", signer=old.address),
    )

    pid = client.propose(sender=admin["BR"], kind=ProposalKind.SUSPEND, target="IN")
    client.vote(sender=admin["KE"], proposal_id=pid)
    assert client.member_status("IN") is MemberStatus.ACTIVE  # 2 of 4 is not a majority
    client.vote(sender=admin["DE"], proposal_id=pid)
    assert client.member_status("IN") is MemberStatus.SUSPENDED
    assert client.active_member_count() == 3
    assert_rejected(
        client, ce.NotActiveMemberError, lambda: publish_next(net, client, "IN", make_records(1), signer=new)
    )
    assert_rejected(client, ce.NotActiveMemberError, lambda: client.vote(sender=admin["IN"], proposal_id=pid))
    assert_rejected(
        client, ce.ProposalExecutedError, lambda: client.vote(sender=admin["KE"], proposal_id=pid)
    )
    # history stays readable
    assert [e.seq for e in client.fetch_batches(from_block=0, country="IN")] == [1]

    rid = client.propose(sender=admin["BR"], kind=ProposalKind.REINSTATE, target="IN")
    client.vote(sender=admin["KE"], proposal_id=rid)
    assert client.member_status("IN") is MemberStatus.ACTIVE
    publish_next(net, client, "IN", make_records(1), signer=new)
    assert client.head_of("IN")[1] == 2


def test_governance_rejections_and_admission(fresh_devnet: Devnet, client: LedgerClient) -> None:
    net = fresh_devnet
    admin = {cc: net.account(cc, "admin") for cc in ("IN", "BR", "KE", "DE")}
    outsider = Account.create()
    fund = net.account("IN", "relayer")
    tx = {
        "to": outsider.address,
        "value": 10**18,
        "gas": 21_000,
        "gasPrice": client.w3.eth.gas_price * 2,
        "nonce": client.w3.eth.get_transaction_count(fund.address),
        "chainId": client.chain_id,
    }
    client.w3.eth.wait_for_transaction_receipt(
        client.w3.eth.send_raw_transaction(fund.sign_transaction(tx).raw_transaction)
    )

    assert_rejected(
        client,
        ce.NotAdminError,
        lambda: client.propose(sender=outsider, kind=ProposalKind.SUSPEND, target="IN"),
    )
    assert_rejected(
        client,
        ce.NotAdminError,
        lambda: client.add_signer(sender=admin["BR"], country="IN", signer=outsider.address),
    )
    assert_rejected(
        client,
        ce.UnknownMemberError,
        lambda: client.add_signer(sender=admin["BR"], country="FR", signer=outsider.address),
    )
    # the Python side refuses a bad code before sending; the contract refuses it too
    raw = client.contract.functions.propose(int(ProposalKind.ADMIT), b"fr", outsider.address)
    assert_rejected(client, ce.InvalidCountryError, lambda: client._transact(admin["BR"], raw))
    assert_rejected(
        client,
        ce.ProposalInvalidError,
        lambda: client.propose(
            sender=admin["BR"], kind=ProposalKind.ADMIT, target="IN", admin=outsider.address
        ),
    )
    assert_rejected(client, ce.UnknownProposalError, lambda: client.vote(sender=admin["BR"], proposal_id=99))
    assert_rejected(
        client,
        ce.SignerAlreadyAddedError,
        lambda: client.add_signer(sender=admin["IN"], country="IN", signer=signer_of(net, "IN").address),
    )
    assert_rejected(
        client,
        ce.SignerUnknownError,
        lambda: client.revoke_signer(sender=admin["IN"], country="IN", signer=outsider.address),
    )
    assert_rejected(
        client,
        ce.ZeroAddressError,
        lambda: client.set_admin(sender=admin["IN"], country="IN", new_admin="0x" + "00" * 20),
    )
    assert_rejected(
        client,
        ce.AdminInUseError,
        lambda: client.set_admin(sender=admin["IN"], country="IN", new_admin=admin["BR"].address),
    )

    pid = client.propose(sender=admin["IN"], kind=ProposalKind.ADMIT, target="FR", admin=outsider.address)
    assert_rejected(client, ce.AlreadyVotedError, lambda: client.vote(sender=admin["IN"], proposal_id=pid))
    client.vote(sender=admin["BR"], proposal_id=pid)
    assert client.member_status("FR") is MemberStatus.NONE
    client.vote(sender=admin["KE"], proposal_id=pid)
    assert client.member_status("FR") is MemberStatus.ACTIVE
    assert client.members()[-1] == "FR"
    fr_signer = LocalSigner(Account.create().key)
    client.add_signer(sender=outsider, country="FR", signer=fr_signer.address)
    head, _seq = client.head_of("FR")
    records = make_records(4, kind=Kind.LOST)
    batch = Batch.build("FR", 1, head, records)
    client.publish(
        sender=outsider,
        batch=batch,
        records=records,
        signature=sign_batch(fr_signer, batch, client.chain_id, client.address),
    )
    assert client.head_of("FR") == (struct_hash(batch), 1)


def test_dispute_marks_a_batch_whose_root_lies(fresh_devnet: Devnet, client: LedgerClient) -> None:
    net = fresh_devnet
    records = make_records(5)
    honest, _, _ = publish_next(net, client, "BR", records)
    challenger = net.account("KE", "relayer")
    assert_rejected(
        client,
        ce.RootNotDisputableError,
        lambda: client.dispute(sender=challenger, country="BR", seq=1, records=records),
    )
    assert_rejected(
        client,
        ce.UnknownBatchError,
        lambda: client.dispute(sender=challenger, country="BR", seq=9, records=records),
    )
    assert_rejected(
        client,
        ce.RecordsHashMismatchError,
        lambda: client.dispute(sender=challenger, country="BR", seq=1, records=records[:-16]),
    )

    lying = dataclasses.replace(_next(client, "BR", records), merkle_root=b"\x42" * 32)
    client.publish(
        sender=net.account("BR", "relayer"),
        batch=lying,
        records=records,
        signature=sign_batch(signer_of(net, "BR"), lying, client.chain_id, client.address),
    )
    assert client.verify_record(country="BR", seq=2, index=0, record=b"\x00" * 16, proof=[]) is False
    client.dispute(sender=challenger, country="BR", seq=2, records=records)
    assert client.is_disputed("BR", 2)
    assert not client.is_disputed("BR", 1)
    disputes = client.fetch_disputes(from_block=0)
    assert [(d.country, d.seq, d.signed_root) for d in disputes] == [("BR", 2, b"\x42" * 32)]
    assert (
        disputes[0].computed_root
        == MerkleTree.from_records([records[i : i + 16] for i in range(0, 80, 16)]).root
    )
    tree = MerkleTree.from_records([records[i : i + 16] for i in range(0, 80, 16)])
    assert client.verify_record(country="BR", seq=1, index=0, record=records[:16], proof=tree.proof(0))
    assert honest.seq == 1
