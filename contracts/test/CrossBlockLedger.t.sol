// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./utils/LedgerFixture.sol";
import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {ICrossBlockLedger as IL} from "../src/interfaces/ICrossBlockLedger.sol";
import {ICrossBlockConsortium as IC} from "../src/interfaces/ICrossBlockConsortium.sol";

contract CrossBlockLedgerTest is LedgerFixture {
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    // ============================================================ publishBatch

    function test_publishBatch_acceptsFirstBatch() public {
        bytes memory records = makeRecords(1, 5);
        IL.Batch memory b = nextBatch(IN, records);
        assertEq(b.seq, 1, "first seq");
        assertEq(b.prevHead, bytes32(0), "first prevHead");
        bytes memory sig = signBatch(SIGNER_IN_PK, b);

        vm.expectEmit(true, true, true, true, address(ledger));
        emit IL.BatchPublished(IN, 1, signerIN, bytes32(0), b.recordsHash, b.merkleRoot, 5, sig, records);
        vm.prank(relayer);
        ledger.publishBatch(b, records, sig);

        (bytes32 head, uint64 seq) = ledger.headOf(IN);
        assertEq(head, structHashOf(b), "head = struct hash");
        assertEq(seq, 1, "seq");
        assertEq(ledger.batchRoot(IN, 1), b.merkleRoot, "root");
        assertEq(ledger.batchRecordsHash(IN, 1), keccak256(records), "records hash");
        assertFalse(ledger.isDisputed(IN, 1), "not disputed");
        (bytes32 headFR, uint64 seqFR) = ledger.headOf(FR);
        assertEq(headFR, bytes32(0), "other log untouched");
        assertEq(seqFR, 0, "other seq untouched");
    }

    function test_publishBatch_chainsHeads() public {
        bytes32 prev;
        for (uint64 i = 1; i <= 4; ++i) {
            bytes memory records = makeRecords(i, i * 3 - 1);
            IL.Batch memory b = nextBatch(FR, records);
            assertEq(b.seq, i, "seq");
            assertEq(b.prevHead, prev, "prevHead");
            bytes memory sig = signBatch(SIGNER_FR_PK, b);
            vm.expectEmit(true, true, true, true, address(ledger));
            emit IL.BatchPublished(FR, i, signerFR, prev, b.recordsHash, b.merkleRoot, b.count, sig, records);
            vm.prank(relayer);
            ledger.publishBatch(b, records, sig);
            prev = structHashOf(b);
            (bytes32 head, uint64 seq) = ledger.headOf(FR);
            assertEq(head, prev, "head");
            assertEq(seq, i, "seq stored");
        }
    }

    function test_publishBatch_anyRelayer() public {
        bytes memory records = makeRecords(2, 2);
        IL.Batch memory b = nextBatch(DE, records);
        bytes memory sig = signBatch(SIGNER_DE_PK, b);
        vm.prank(outsider);
        ledger.publishBatch(b, records, sig);
        (, uint64 seq) = ledger.headOf(DE);
        assertEq(seq, 1, "seq");
    }

    function test_publishBatch_allIdentifierTypesAndKinds() public {
        bytes memory records = new bytes(12 * 16);
        uint256 k;
        for (uint8 t = 1; t <= 2; ++t) {
            for (uint8 kind = 1; kind <= 6; ++kind) {
                records[k * 16] = bytes1((t << 4) | kind);
                ++k;
            }
        }
        publish(SIGNER_IN_PK, IN, records);
        (, uint64 seq) = ledger.headOf(IN);
        assertEq(seq, 1, "accepted");
    }

    function test_publishBatch_maxBatch() public {
        bytes memory records = makeRecords(3, 10_000);
        IL.Batch memory b = IL.Batch({
            country: IN,
            seq: 1,
            prevHead: bytes32(0),
            recordsHash: keccak256(records),
            merkleRoot: keccak256("root is not recomputed on chain"),
            count: 10_000
        });
        vm.prank(relayer);
        ledger.publishBatch(b, records, signBatch(SIGNER_IN_PK, b));
        (, uint64 seq) = ledger.headOf(IN);
        assertEq(seq, 1, "accepted");
        assertEq(ledger.maxBatchRecords(), 10_000, "max");
    }

    function test_publishBatch_signerRotation() public {
        address newSigner = vm.addr(0x5999);
        vm.prank(adminIN);
        ledger.addSigner(IN, newSigner);
        publish(0x5999, IN, makeRecords(1, 1));
        vm.roll(block.number + 1);
        vm.prank(adminIN);
        ledger.revokeSigner(IN, signerIN);
        publish(0x5999, IN, makeRecords(2, 1));
        (, uint64 seq) = ledger.headOf(IN);
        assertEq(seq, 2, "both accepted");
    }

    function test_publishBatch_resumesAfterReinstatement() public {
        publish(SIGNER_FR_PK, FR, makeRecords(1, 2));
        suspend(FR);
        reinstate(FR);
        publish(SIGNER_FR_PK, FR, makeRecords(2, 2));
        (, uint64 seq) = ledger.headOf(FR);
        assertEq(seq, 2, "seq continues");
    }

    function test_RevertWhen_publishBatch_notMember() public {
        bytes memory records = makeRecords(1, 1);
        IL.Batch memory b = nextBatch(BR, records);
        bytes memory sig = signBatch(SIGNER_BR_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockNotActiveMember.selector, BR));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_memberSuspended() public {
        suspend(FR);
        bytes memory records = makeRecords(1, 1);
        IL.Batch memory b = nextBatch(FR, records);
        bytes memory sig = signBatch(SIGNER_FR_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockNotActiveMember.selector, FR));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_seqGap() public {
        bytes memory records = makeRecords(1, 1);
        IL.Batch memory b = nextBatch(IN, records);
        b.seq = 2;
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockSeqMismatch.selector, IN, uint64(1), uint64(2)));
        ledger.publishBatch(b, records, sig);
        b.seq = 0;
        sig = signBatch(SIGNER_IN_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockSeqMismatch.selector, IN, uint64(1), uint64(0)));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_replay() public {
        bytes memory records = makeRecords(1, 3);
        (IL.Batch memory b, bytes memory sig) = publish(SIGNER_IN_PK, IN, records);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockSeqMismatch.selector, IN, uint64(2), uint64(1)));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_headMismatch() public {
        (IL.Batch memory first,) = publish(SIGNER_IN_PK, IN, makeRecords(1, 1));
        bytes memory records = makeRecords(2, 1);
        IL.Batch memory b = nextBatch(IN, records);
        b.prevHead = keccak256("fork");
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        vm.expectRevert(
            abi.encodeWithSelector(IL.CrossBlockHeadMismatch.selector, IN, structHashOf(first), keccak256("fork"))
        );
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_firstBatchNonZeroPrevHead() public {
        bytes memory records = makeRecords(1, 1);
        IL.Batch memory b = nextBatch(IN, records);
        b.prevHead = bytes32(uint256(1));
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockHeadMismatch.selector, IN, bytes32(0), bytes32(uint256(1))));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_empty() public {
        bytes memory records = "";
        IL.Batch memory b = IL.Batch(IN, 1, bytes32(0), keccak256(records), bytes32(0), 0);
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockEmptyBatch.selector, IN, uint64(1)));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_tooLarge() public {
        bytes memory records = new bytes(10_001 * 16);
        IL.Batch memory b = IL.Batch(IN, 1, bytes32(0), keccak256(records), bytes32(0), 10_001);
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockBatchTooLarge.selector, uint32(10_001), uint32(10_000)));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_recordsLengthMismatch() public {
        bytes memory records = makeRecords(1, 3);
        IL.Batch memory b = nextBatch(IN, records);
        b.count = 2;
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockRecordsLengthMismatch.selector, 32, 48));
        ledger.publishBatch(b, records, sig);

        bytes memory ragged = new bytes(40); // not a multiple of 16
        b = IL.Batch(IN, 1, bytes32(0), keccak256(ragged), bytes32(0), 2);
        sig = signBatch(SIGNER_IN_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockRecordsLengthMismatch.selector, 32, 40));
        ledger.publishBatch(b, ragged, sig);
    }

    function test_RevertWhen_publishBatch_recordsHashMismatch() public {
        bytes memory records = makeRecords(1, 4);
        IL.Batch memory b = nextBatch(IN, records);
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        bytes memory tampered = makeRecords(1, 4);
        tampered[63] = bytes1(uint8(tampered[63]) ^ 0x80);
        vm.expectRevert(
            abi.encodeWithSelector(IL.CrossBlockRecordsHashMismatch.selector, b.recordsHash, keccak256(tampered))
        );
        ledger.publishBatch(b, tampered, sig);
    }

    function _expectMalformed(uint256 count, uint256 index, uint8 typeKind) internal {
        bytes memory records = withTypeKind(makeRecords(index, count), index, typeKind);
        IL.Batch memory b = nextBatch(IN, records);
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockMalformedRecord.selector, index, typeKind));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_malformedRecord() public {
        _expectMalformed(1, 0, 0x00); // nothing
        _expectMalformed(1, 0, 0x01); // type 0
        _expectMalformed(2, 0, 0x10); // kind 0
        _expectMalformed(2, 1, 0x17); // kind 7
        _expectMalformed(3, 2, 0x1f); // kind 15, odd last record
        _expectMalformed(4, 3, 0x31); // type 3
        _expectMalformed(5, 2, 0x20); // MEID kind 0
        _expectMalformed(7, 5, 0x27); // MEID kind 7
        _expectMalformed(9, 8, 0xff);
        _expectMalformed(10_000, 9_999, 0x61);
    }

    function test_RevertWhen_publishBatch_malformedReportsFirstIndex() public {
        bytes memory records = makeRecords(1, 6);
        withTypeKind(records, 3, 0x07);
        withTypeKind(records, 4, 0x08);
        withTypeKind(records, 5, 0x09);
        IL.Batch memory b = nextBatch(IN, records);
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockMalformedRecord.selector, 3, 0x07));
        ledger.publishBatch(b, records, sig);
    }

    function _expectInvalidSignature(bytes memory sig) internal {
        bytes memory records = makeRecords(1, 2);
        IL.Batch memory b = nextBatch(IN, records);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockInvalidSignature.selector, sig));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_invalidSignature() public {
        IL.Batch memory b = nextBatch(IN, makeRecords(1, 2));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(SIGNER_IN_PK, digestOf(b));
        _expectInvalidSignature("");
        _expectInvalidSignature(abi.encodePacked(r, s)); // 64 bytes (EIP-2098 not accepted)
        _expectInvalidSignature(abi.encodePacked(r, s, v, uint8(0))); // 66 bytes
        _expectInvalidSignature(abi.encodePacked(r, s, uint8(v + 2))); // v not 27/28
        _expectInvalidSignature(abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), uint8(v == 27 ? 28 : 27))); // high s
        _expectInvalidSignature(abi.encodePacked(bytes32(0), bytes32(0), v)); // recovers nothing
    }

    function test_RevertWhen_publishBatch_signerOfOtherCountry() public {
        bytes memory records = makeRecords(1, 2);
        IL.Batch memory b = nextBatch(IN, records);
        bytes memory sig = signBatch(SIGNER_FR_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockSignerNotActive.selector, IN, signerFR));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_unknownSigner() public {
        bytes memory records = makeRecords(1, 2);
        IL.Batch memory b = nextBatch(IN, records);
        bytes memory sig = signBatch(OUTSIDER_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockSignerNotActive.selector, IN, outsider));
        ledger.publishBatch(b, records, sig);
        // the admin key is not a signing key either
        sig = signBatch(ADMIN_IN_PK, b);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockSignerNotActive.selector, IN, adminIN));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_revokedSigner() public {
        bytes memory records = makeRecords(1, 2);
        IL.Batch memory b = nextBatch(IN, records);
        bytes memory sig = signBatch(SIGNER_IN_PK, b); // signed while active
        vm.roll(block.number + 5);
        vm.prank(adminIN);
        ledger.revokeSigner(IN, signerIN);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockSignerNotActive.selector, IN, signerIN));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_tamperedHeader() public {
        // any change of a signed field changes the digest: the recovered key is someone else
        bytes memory records = makeRecords(1, 2);
        IL.Batch memory b = nextBatch(IN, records);
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        b.merkleRoot = keccak256("other root");
        address recovered = _recover(digestOf(b), sig);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockSignerNotActive.selector, IN, recovered));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_otherChainSignature() public {
        bytes memory records = makeRecords(1, 2);
        IL.Batch memory b = nextBatch(IN, records);
        uint256 chainId = block.chainid;
        vm.chainId(chainId + 1);
        bytes memory sig = signBatch(SIGNER_IN_PK, b); // domain of another chain
        vm.chainId(chainId);
        address recovered = _recover(digestOf(b), sig);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockSignerNotActive.selector, IN, recovered));
        ledger.publishBatch(b, records, sig);
    }

    function test_RevertWhen_publishBatch_dirtyCalldata() public {
        // a count with bits above uint32 is rejected by the ABI decoder, never silently truncated
        bytes memory records = makeRecords(1, 1);
        IL.Batch memory b = nextBatch(IN, records);
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        bytes memory data = abi.encodeCall(IL.publishBatch, (b, records, sig));
        data[4 + 0xa0 + 27] = 0x01; // byte above the uint32 `count`
        vm.expectRevert();
        (bool ok,) = address(ledger).call(data);
        ok;
    }

    function _recover(bytes32 digest, bytes memory sig) internal pure returns (address) {
        bytes32 r;
        bytes32 s;
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
        }
        return ecrecover(digest, uint8(sig[64]), r, s);
    }

    // ============================================================= disputes

    function _publishWithRoot(bytes memory records, bytes32 root) internal returns (IL.Batch memory b) {
        b = nextBatch(IN, records);
        b.merkleRoot = root;
        vm.prank(relayer);
        ledger.publishBatch(b, records, signBatch(SIGNER_IN_PK, b));
    }

    function test_disputeBatch_marksWrongRoot() public {
        bytes memory records = makeRecords(1, 7);
        bytes32 good = MerkleHelper.rootOfRecords(records);
        bytes32 bad = keccak256("not the root");
        _publishWithRoot(records, bad);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IL.BatchDisputed(IN, 1, bad, good, outsider);
        vm.prank(outsider);
        ledger.disputeBatch(IN, 1, records);
        assertTrue(ledger.isDisputed(IN, 1), "disputed");
        assertEq(ledger.batchRoot(IN, 1), bad, "signed root kept");

        // no record of a disputed batch verifies, not even against the bad root
        bytes32[] memory leaves = MerkleHelper.leaves(records);
        assertFalse(
            ledger.verifyRecord(IN, 1, 0, MerkleHelper.recordAt(records, 0), MerkleHelper.proof(leaves, 0)),
            "verify after dispute"
        );
        // the log goes on
        publish(SIGNER_IN_PK, IN, makeRecords(2, 1));
        assertFalse(ledger.isDisputed(IN, 2), "next batch not disputed");
    }

    function test_disputeBatch_rootOfAnotherTreeShape() public {
        // a root over the right leaves in the wrong order is still caught
        bytes memory records = makeRecords(5, 4);
        bytes32[] memory leaves = MerkleHelper.leaves(records);
        bytes32 wrong = MerkleHelper.hashPair(
            MerkleHelper.hashPair(leaves[0], leaves[2]), MerkleHelper.hashPair(leaves[1], leaves[3])
        );
        _publishWithRoot(records, wrong);
        ledger.disputeBatch(IN, 1, records);
        assertTrue(ledger.isDisputed(IN, 1), "disputed");
    }

    function test_disputeBatch_worksForSuspendedMember() public {
        bytes memory records = makeRecords(1, 3);
        _publishWithRoot(records, bytes32(0));
        suspend(IN);
        ledger.disputeBatch(IN, 1, records);
        assertTrue(ledger.isDisputed(IN, 1), "disputed");
    }

    function test_RevertWhen_disputeBatch_unknownBatch() public {
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockUnknownBatch.selector, IN, uint64(1)));
        ledger.disputeBatch(IN, 1, makeRecords(1, 1));
        publish(SIGNER_IN_PK, IN, makeRecords(1, 1));
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockUnknownBatch.selector, IN, uint64(2)));
        ledger.disputeBatch(IN, 2, makeRecords(1, 1));
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockUnknownBatch.selector, FR, uint64(1)));
        ledger.disputeBatch(FR, 1, makeRecords(1, 1));
    }

    function test_RevertWhen_disputeBatch_recordsHashMismatch() public {
        bytes memory records = makeRecords(1, 3);
        _publishWithRoot(records, bytes32(0));
        bytes memory other = makeRecords(2, 3);
        vm.expectRevert(
            abi.encodeWithSelector(IL.CrossBlockRecordsHashMismatch.selector, keccak256(records), keccak256(other))
        );
        ledger.disputeBatch(IN, 1, other);
    }

    function test_RevertWhen_disputeBatch_correctRoot() public {
        bytes memory records = makeRecords(1, 9);
        (IL.Batch memory b,) = publish(SIGNER_IN_PK, IN, records);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockRootNotDisputable.selector, IN, uint64(1), b.merkleRoot));
        ledger.disputeBatch(IN, 1, records);
    }

    function test_RevertWhen_disputeBatch_alreadyDisputed() public {
        bytes memory records = makeRecords(1, 2);
        _publishWithRoot(records, keccak256("bad"));
        ledger.disputeBatch(IN, 1, records);
        vm.expectRevert(
            abi.encodeWithSelector(IL.CrossBlockRootNotDisputable.selector, IN, uint64(1), keccak256("bad"))
        );
        ledger.disputeBatch(IN, 1, records);
    }

    function testFuzz_disputeBatch_rootMatchesReference(uint256 seed, uint8 n) public {
        uint256 count = bound(n, 1, 80);
        bytes memory records = makeRecords(seed, count);
        bytes32 good = MerkleHelper.rootOfRecords(records);
        // publish with the correct root: not disputable
        (IL.Batch memory b,) = publish(SIGNER_IN_PK, IN, records);
        vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockRootNotDisputable.selector, IN, uint64(1), good));
        ledger.disputeBatch(IN, 1, records);
        // publish the same records with a wrong root: the on-chain root equals the reference root
        bytes32 bad = keccak256(abi.encode(b.merkleRoot));
        _publishWithRoot(records, bad);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IL.BatchDisputed(IN, 2, bad, good, address(this));
        ledger.disputeBatch(IN, 2, records);
    }

    // =========================================================== verifyRecord

    function test_verifyRecord_everyRecord() public {
        for (uint256 count = 1; count <= 9; ++count) {
            bytes memory records = makeRecords(count, count);
            (IL.Batch memory b,) = publish(SIGNER_DE_PK, DE, records);
            bytes32[] memory leaves = MerkleHelper.leaves(records);
            for (uint256 i; i < count; ++i) {
                bytes16 rec = MerkleHelper.recordAt(records, i);
                bytes32[] memory proof = MerkleHelper.proof(leaves, i);
                assertTrue(ledger.verifyRecord(DE, b.seq, uint32(i), rec, proof), "included");
                assertFalse(ledger.verifyRecord(DE, b.seq, uint32(i + 1), rec, proof), "wrong index");
                assertFalse(ledger.verifyRecord(DE, b.seq, uint32(i), rec ^ bytes16(uint128(1)), proof), "wrong record");
                assertFalse(ledger.verifyRecord(DE, b.seq + 1, uint32(i), rec, proof), "unknown batch");
                assertFalse(ledger.verifyRecord(IN, b.seq, uint32(i), rec, proof), "other country");
                if (proof.length > 0) {
                    proof[0] = bytes32(uint256(proof[0]) ^ 1);
                    assertFalse(ledger.verifyRecord(DE, b.seq, uint32(i), rec, proof), "wrong proof");
                }
            }
        }
    }

    function test_verifyRecord_unknownBatchIsFalse() public view {
        assertFalse(ledger.verifyRecord(IN, 1, 0, bytes16(0), new bytes32[](0)), "unknown");
        assertFalse(ledger.verifyRecord(IN, 0, 0, bytes16(0), new bytes32[](0)), "seq 0");
    }

    // ================================================================= views

    function test_batchStructHash_matchesEip712() public view {
        IL.Batch memory b = IL.Batch(FR, 7, keccak256("p"), keccak256("r"), keccak256("m"), 1000);
        assertEq(ledger.batchStructHash(b), structHashOf(b), "struct hash");
        assertEq(ledger.BATCH_TYPEHASH(), BATCH_TYPEHASH, "type hash");
    }

    function test_batchDigest_matchesEip712() public view {
        IL.Batch memory b = IL.Batch(FR, 7, keccak256("p"), keccak256("r"), keccak256("m"), 1000);
        assertEq(ledger.batchDigest(b), digestOf(b), "digest");
    }

    function test_domainSeparator_bindsChainAndContract() public {
        assertEq(ledger.domainSeparator(), domainSeparatorOf(block.chainid, address(ledger)), "separator");
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = ledger.eip712Domain();
        assertEq(keccak256(bytes(name)), keccak256("CrossBlock"), "name");
        assertEq(keccak256(bytes(version)), keccak256("1"), "version");
        assertEq(chainId, block.chainid, "chainId");
        assertEq(verifying, address(ledger), "verifyingContract");
        vm.chainId(4242);
        assertEq(ledger.domainSeparator(), domainSeparatorOf(4242, address(ledger)), "separator after fork");
    }

    function testFuzz_batchStructHash(bytes2 country, uint64 seq, bytes32 p, bytes32 r, bytes32 m, uint32 count)
        public
        view
    {
        IL.Batch memory b = IL.Batch(country, seq, p, r, m, count);
        assertEq(ledger.batchStructHash(b), structHashOf(b), "struct hash");
        assertEq(ledger.batchDigest(b), digestOf(b), "digest");
    }

    function test_headOf_unknownCountry() public view {
        (bytes32 head, uint64 seq) = ledger.headOf(BR);
        assertEq(head, bytes32(0), "head");
        assertEq(seq, 0, "seq");
        assertEq(ledger.batchRoot(BR, 1), bytes32(0), "root");
        assertEq(ledger.batchRecordsHash(BR, 1), bytes32(0), "records hash");
        assertFalse(ledger.isDisputed(BR, 1), "disputed");
    }
}
