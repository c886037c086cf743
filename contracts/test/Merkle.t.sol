// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

import {LedgerFixture} from "./utils/LedgerFixture.sol";
import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {MerkleLib} from "../src/libraries/MerkleLib.sol";
import {ICrossBlockLedger as IL} from "../src/interfaces/ICrossBlockLedger.sol";

/// @dev Exposes the calldata-only function.
contract MerkleLibHarness {
    function root(bytes calldata records) external pure returns (bytes32) {
        return MerkleLib.root(records);
    }
}

contract MerkleTest is LedgerFixture {
    MerkleLibHarness internal harness;

    function setUp() public override {
        super.setUp();
        harness = new MerkleLibHarness();
    }

    function testFuzz_leaf_matchesPacked(uint32 index, bytes16 record) public pure {
        assertEq(MerkleLib.leaf(index, record), keccak256(abi.encodePacked(index, record)), "leaf");
    }

    function testFuzz_hashPair_matchesOpenZeppelin(bytes32 a, bytes32 b) public pure {
        assertEq(MerkleLib.hashPair(a, b), Hashes.commutativeKeccak256(a, b), "pair");
        assertEq(MerkleLib.hashPair(a, b), MerkleLib.hashPair(b, a), "commutative");
    }

    function test_root_smallTrees() public view {
        bytes memory records = makeRecords(7, 3);
        bytes32[] memory l = MerkleHelper.leaves(records);
        assertEq(harness.root(MerkleHelper.recordsPrefix(records, 1)), l[0], "one record: root = leaf");
        assertEq(harness.root(MerkleHelper.recordsPrefix(records, 2)), Hashes.commutativeKeccak256(l[0], l[1]), "two");
        // three: (0,1) paired, 2 carried up
        assertEq(
            harness.root(records), Hashes.commutativeKeccak256(Hashes.commutativeKeccak256(l[0], l[1]), l[2]), "three"
        );
    }

    /// @dev Random batches of 1..64 records: the reference tree, MerkleLib's root, every proof through
    ///      OpenZeppelin MerkleProof (memory and calldata) and through the contract's verifyRecord.
    function testFuzz_proofs_everyLeaf(uint256 seed, uint8 size) public {
        uint256 count = bound(size, 1, 64);
        bytes memory records = makeRecords(seed, count);
        bytes32[] memory leaves = MerkleHelper.leaves(records);
        bytes32 root = MerkleHelper.root(leaves);
        assertEq(harness.root(records), root, "MerkleLib root");

        (IL.Batch memory b,) = publish(SIGNER_IN_PK, IN, records);
        assertEq(ledger.batchRoot(IN, b.seq), root, "stored root");

        for (uint256 i; i < count; ++i) {
            bytes16 record = MerkleHelper.recordAt(records, i);
            bytes32[] memory proof = MerkleHelper.proof(leaves, i);
            assertLe(proof.length, 6, "proof length <= log2(64)");
            assertTrue(MerkleProof.verify(proof, root, leaves[i]), "OpenZeppelin verify");
            assertTrue(ledger.verifyRecord(IN, b.seq, uint32(i), record, proof), "verifyRecord");
            // the index is bound into the leaf: the same record and proof fail at another index
            assertFalse(ledger.verifyRecord(IN, b.seq, uint32(i ^ 1), record, proof), "other index");
        }
    }

    function testFuzz_proofs_rejectForeignRecord(uint256 seed, uint8 size, uint8 at, bytes16 foreign) public {
        uint256 count = bound(size, 1, 64);
        uint256 i = bound(at, 0, count - 1);
        bytes memory records = makeRecords(seed, count);
        bytes32[] memory leaves = MerkleHelper.leaves(records);
        vm.assume(foreign != MerkleHelper.recordAt(records, i));
        (IL.Batch memory b,) = publish(SIGNER_IN_PK, IN, records);
        assertFalse(ledger.verifyRecord(IN, b.seq, uint32(i), foreign, MerkleHelper.proof(leaves, i)), "foreign");
    }
}
