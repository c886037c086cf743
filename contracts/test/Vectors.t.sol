// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {LedgerFixture} from "./utils/LedgerFixture.sol";
import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {CrossBlockLedger} from "../src/CrossBlockLedger.sol";
import {ICrossBlockLedger as IL} from "../src/interfaces/ICrossBlockLedger.sol";
import {RecordLib} from "../src/libraries/RecordLib.sol";
import {MerkleLib} from "../src/libraries/MerkleLib.sol";

/// @dev Exposes the calldata-only library functions.
contract VectorHarness {
    function root(bytes calldata records) external pure returns (bytes32) {
        return MerkleLib.root(records);
    }

    function firstMalformed(bytes calldata records) external pure returns (uint256) {
        return RecordLib.firstMalformed(records);
    }
}

/// @notice The shared test vectors (vectors/*.json, written by `python -m ledger_node.vectors --write`)
///         checked against the contracts: the Python and Solidity sides agree byte for byte.
contract VectorsTest is LedgerFixture {
    VectorHarness internal harness;

    function setUp() public override {
        super.setUp();
        harness = new VectorHarness();
    }

    function _load(string memory name) internal view returns (string memory) {
        string memory path = string.concat(vm.projectRoot(), "/../vectors/", name);
        require(vm.exists(path), string.concat("missing test vectors: ", path));
        return vm.readFile(path);
    }

    function _key(string memory prefix, uint256 i, string memory field) internal pure returns (string memory) {
        return string.concat(prefix, "[", vm.toString(i), "]", field);
    }

    /// @dev "49015420323751" (or "a0000000002329") -> uint56, two hex digits per byte.
    function _hexToUint(string memory s) internal pure returns (uint256 v) {
        bytes memory b = bytes(s);
        for (uint256 i; i < b.length; ++i) {
            uint8 c = uint8(b[i]);
            uint8 d;
            if (c >= 0x30 && c <= 0x39) d = c - 0x30;
            else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
            else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
            else revert(string.concat("bad hex digit in ", s));
            v = (v << 4) | d;
        }
    }

    function _slice4(bytes32 h) internal pure returns (bytes4) {
        return bytes4(h);
    }

    // =============================================================== records

    function test_vectors_recordsEncodeAndDecode() public view {
        string memory json = _load("records.json");
        assertEq(vm.parseJsonUint(json, ".recordSize"), 16, "recordSize");
        bytes memory salt = vm.parseJsonBytes(json, ".salt");
        uint256 n = vm.parseJsonUint(json, ".caseCount");
        assertTrue(n > 0, "no record cases");
        for (uint256 i; i < n; ++i) {
            string memory name = vm.parseJsonString(json, _key(".cases", i, ".name"));
            bytes memory packed = vm.parseJsonBytes(json, _key(".cases", i, ".packed"));
            assertEq(packed.length, 16, name);
            bytes16 expected = bytes16(packed);

            RecordLib.Record memory r;
            r.idType = uint8(vm.parseJsonUint(json, _key(".cases", i, ".idType")));
            r.kind = uint8(vm.parseJsonUint(json, _key(".cases", i, ".kind")));
            r.identifier = uint56(_hexToUint(vm.parseJsonString(json, _key(".cases", i, ".identifier"))));
            r.reportedAt = uint32(vm.parseJsonUint(json, _key(".cases", i, ".reportedAt")));
            r.caseCommitment = bytes4(vm.parseJsonBytes(json, _key(".cases", i, ".caseCommitment")));

            assertEq(RecordLib.encode(r), expected, string.concat(name, ": encode"));
            RecordLib.Record memory d = RecordLib.decode(expected);
            assertEq(d.idType, r.idType, string.concat(name, ": idType"));
            assertEq(d.kind, r.kind, string.concat(name, ": kind"));
            assertEq(d.identifier, r.identifier, string.concat(name, ": identifier"));
            assertEq(d.reportedAt, r.reportedAt, string.concat(name, ": reportedAt"));
            assertEq(d.caseCommitment, r.caseCommitment, string.concat(name, ": caseCommitment"));

            uint8 typeKind = uint8(vm.parseJsonUint(json, _key(".cases", i, ".typeKind")));
            assertEq(RecordLib.typeKind(expected), typeKind, string.concat(name, ": typeKind"));
            assertTrue(RecordLib.isWellFormed(typeKind), string.concat(name, ": well formed"));

            // caseCommitment = keccak256(salt || utf8(caseRef))[0:4]
            string memory caseRef = vm.parseJsonString(json, _key(".cases", i, ".caseRef"));
            assertEq(
                _slice4(keccak256(abi.encodePacked(salt, caseRef))),
                r.caseCommitment,
                string.concat(name, ": case commitment")
            );
        }
    }

    function test_vectors_malformedRecordsRejected() public {
        string memory json = _load("records.json");
        uint256 n = vm.parseJsonUint(json, ".malformedCount");
        assertTrue(n > 0, "no malformed cases");
        for (uint256 i; i < n; ++i) {
            string memory name = vm.parseJsonString(json, _key(".malformed", i, ".name"));
            bytes memory packed = vm.parseJsonBytes(json, _key(".malformed", i, ".packed"));
            uint8 typeKind = uint8(vm.parseJsonUint(json, _key(".malformed", i, ".typeKind")));
            assertEq(RecordLib.typeKind(bytes16(packed)), typeKind, string.concat(name, ": typeKind"));
            assertFalse(RecordLib.isWellFormed(typeKind), string.concat(name, ": not well formed"));
            assertEq(harness.firstMalformed(packed), 0, string.concat(name, ": firstMalformed"));

            IL.Batch memory b = IL.Batch(IN, 1, bytes32(0), keccak256(packed), bytes32(0), 1);
            bytes memory sig = signBatch(SIGNER_IN_PK, b);
            vm.expectRevert(abi.encodeWithSelector(IL.CrossBlockMalformedRecord.selector, 0, typeKind));
            ledger.publishBatch(b, packed, sig);
        }
    }

    // ================================================================ merkle

    function test_vectors_merkleRootsAndProofs() public {
        string memory json = _load("merkle.json");
        uint256 n = vm.parseJsonUint(json, ".caseCount");
        assertTrue(n > 0, "no merkle cases");
        for (uint256 k; k < n; ++k) {
            string memory c = _key(".cases", k, "");
            string memory name = vm.parseJsonString(json, string.concat(c, ".name"));
            uint256 count = vm.parseJsonUint(json, string.concat(c, ".count"));
            bytes memory packed = vm.parseJsonBytes(json, string.concat(c, ".packed"));
            bytes32 root = vm.parseJsonBytes32(json, string.concat(c, ".root"));
            bytes32[] memory leaves = vm.parseJsonBytes32Array(json, string.concat(c, ".leaves"));
            assertEq(packed.length, count * 16, string.concat(name, ": packed length"));
            assertEq(leaves.length, count, string.concat(name, ": leaves"));
            assertEq(
                keccak256(packed),
                vm.parseJsonBytes32(json, string.concat(c, ".recordsHash")),
                string.concat(name, ": recordsHash")
            );
            assertEq(MerkleHelper.rootOfRecords(packed), root, string.concat(name, ": reference root"));
            assertEq(harness.root(packed), root, string.concat(name, ": MerkleLib root"));

            // publish the records with the vector's root, then check every proof on chain too
            (IL.Batch memory b,) = publish(SIGNER_IN_PK, IN, packed);
            assertEq(b.merkleRoot, root, string.concat(name, ": published root"));

            for (uint256 i; i < count; ++i) {
                bytes16 record = bytes16(vm.parseJsonBytes(json, string.concat(c, _key(".records", i, ""))));
                assertEq(record, MerkleHelper.recordAt(packed, i), string.concat(name, ": record"));
                bytes32 leaf = MerkleLib.leaf(uint32(i), record);
                assertEq(leaf, leaves[i], string.concat(name, ": leaf"));
                bytes32[] memory proof = _proof(json, c, i);
                bytes32[] memory ours = MerkleHelper.proof(leaves, i);
                assertEq(proof.length, ours.length, string.concat(name, ": proof length"));
                for (uint256 j; j < proof.length; ++j) {
                    assertEq(proof[j], ours[j], string.concat(name, ": proof element"));
                }
                assertTrue(MerkleProof.verify(proof, root, leaf), string.concat(name, ": OpenZeppelin verify"));
                assertTrue(
                    ledger.verifyRecord(IN, b.seq, uint32(i), record, proof), string.concat(name, ": verifyRecord")
                );
            }
        }
    }

    function _proof(string memory json, string memory c, uint256 i) internal pure returns (bytes32[] memory) {
        string memory key = string.concat(c, _key(".proofs", i, ""));
        // an empty JSON array carries no element type: decode it generically
        bytes memory raw = vm.parseJson(json, key);
        if (raw.length <= 64) return new bytes32[](0);
        return vm.parseJsonBytes32Array(json, key);
    }

    // ================================================================ EIP-712

    function test_vectors_eip712DomainAndSignatures() public {
        string memory json = _load("eip712.json");
        uint256 chainId = vm.parseJsonUint(json, ".chainId");
        address verifyingContract = vm.parseJsonAddress(json, ".verifyingContract");
        address signer = vm.parseJsonAddress(json, ".signer");
        uint256 pk = vm.parseJsonUint(json, ".privateKey");
        bytes32 separator = vm.parseJsonBytes32(json, ".domainSeparator");

        assertEq(keccak256(bytes(vm.parseJsonString(json, ".name"))), keccak256("CrossBlock"), "domain name");
        assertEq(keccak256(bytes(vm.parseJsonString(json, ".version"))), keccak256("1"), "domain version");
        assertEq(vm.addr(pk), signer, "signer of the vector key");
        assertEq(keccak256(bytes(vm.parseJsonString(json, ".batchType"))), BATCH_TYPEHASH, "batch type");
        assertEq(vm.parseJsonBytes32(json, ".typehash"), BATCH_TYPEHASH, "typehash");
        assertEq(vm.parseJsonBytes32(json, ".domainTypehash"), DOMAIN_TYPEHASH, "domain typehash");
        assertEq(domainSeparatorOf(chainId, verifyingContract), separator, "domain separator");

        // Deploy the ledger where the vectors expect it: the first contract of anvil's default deployer.
        vm.chainId(chainId);
        bytes2[] memory countries = new bytes2[](1);
        countries[0] = IN;
        address[] memory admins = new address[](1);
        admins[0] = adminIN;
        vm.prank(0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266);
        CrossBlockLedger l = new CrossBlockLedger(countries, admins);
        assertEq(address(l), verifyingContract, "deployment address");
        assertEq(l.domainSeparator(), separator, "contract domain separator");
        vm.prank(adminIN);
        l.addSigner(IN, signer);

        uint256 n = vm.parseJsonUint(json, ".batchCount");
        assertTrue(n > 0, "no batches");
        for (uint256 i; i < n; ++i) {
            _checkBatch(l, json, _key(".batches", i, ""), signer, pk);
        }
    }

    function _readBatch(string memory json, string memory p) internal pure returns (IL.Batch memory b) {
        b.country = bytes2(vm.parseJsonBytes(json, string.concat(p, ".country")));
        b.seq = uint64(vm.parseJsonUint(json, string.concat(p, ".seq")));
        b.prevHead = vm.parseJsonBytes32(json, string.concat(p, ".prevHead"));
        b.recordsHash = vm.parseJsonBytes32(json, string.concat(p, ".recordsHash"));
        b.merkleRoot = vm.parseJsonBytes32(json, string.concat(p, ".merkleRoot"));
        b.count = uint32(vm.parseJsonUint(json, string.concat(p, ".count")));
    }

    function _checkBatch(CrossBlockLedger l, string memory json, string memory p, address signer, uint256 pk) internal {
        IL.Batch memory b = _readBatch(json, p);
        bytes memory records = vm.parseJsonBytes(json, string.concat(p, ".records"));
        bytes memory sig = vm.parseJsonBytes(json, string.concat(p, ".signature"));
        bytes32 structHash = vm.parseJsonBytes32(json, string.concat(p, ".structHash"));
        bytes32 digest = vm.parseJsonBytes32(json, string.concat(p, ".digest"));

        assertEq(
            bytes(vm.parseJsonString(json, string.concat(p, ".countryCode"))), abi.encodePacked(b.country), "country"
        );
        assertEq(records.length, uint256(b.count) * 16, "records length");
        assertEq(keccak256(records), b.recordsHash, "recordsHash");
        assertEq(MerkleHelper.rootOfRecords(records), b.merkleRoot, "merkleRoot");
        assertEq(harness.firstMalformed(records), RecordLib.NONE, "records well formed");

        assertEq(l.batchStructHash(b), structHash, "batchStructHash");
        assertEq(structHashOf(b), structHash, "reference struct hash");
        assertEq(vm.parseJsonBytes32(json, string.concat(p, ".head")), structHash, "head = struct hash");
        assertEq(l.batchDigest(b), digest, "batchDigest");
        assertEq(keccak256(abi.encodePacked(hex"1901", l.domainSeparator(), structHash)), digest, "digest from parts");

        _checkSignature(json, p, digest, sig, signer, pk);
        _checkPublish(l, b, records, sig, signer, structHash);
    }

    function _checkSignature(
        string memory json,
        string memory p,
        bytes32 digest,
        bytes memory sig,
        address signer,
        uint256 pk
    ) internal pure {
        // signature: r || s || v, recovers to the signer, and is the deterministic (RFC 6979) one
        bytes32 r = vm.parseJsonBytes32(json, string.concat(p, ".r"));
        bytes32 s = vm.parseJsonBytes32(json, string.concat(p, ".s"));
        uint8 v = uint8(vm.parseJsonUint(json, string.concat(p, ".v")));
        assertEq(sig, abi.encodePacked(r, s, v), "signature = r || s || v");
        assertEq(ECDSA.recover(digest, sig), signer, "ECDSA.recover");
        assertEq(vm.parseJsonAddress(json, string.concat(p, ".signer")), signer, "batch signer");
        (uint8 v2, bytes32 r2, bytes32 s2) = vm.sign(pk, digest);
        assertEq(abi.encodePacked(r2, s2, v2), sig, "same deterministic signature");
    }

    function _checkPublish(
        CrossBlockLedger l,
        IL.Batch memory b,
        bytes memory records,
        bytes memory sig,
        address signer,
        bytes32 structHash
    ) internal {
        // and the ledger accepts it as the next link of the chain
        (bytes32 headBefore, uint64 seqBefore) = l.headOf(b.country);
        assertEq(b.prevHead, headBefore, "prevHead = current head");
        assertEq(b.seq, seqBefore + 1, "seq = last + 1");
        vm.expectEmit(true, true, true, true, address(l));
        emit IL.BatchPublished(b.country, b.seq, signer, b.prevHead, b.recordsHash, b.merkleRoot, b.count, sig, records);
        vm.prank(relayer);
        l.publishBatch(b, records, sig);
        (bytes32 head, uint64 seq) = l.headOf(b.country);
        assertEq(head, structHash, "stored head");
        assertEq(seq, b.seq, "stored seq");
    }
}
