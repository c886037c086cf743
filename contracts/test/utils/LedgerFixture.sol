// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "./Test.sol";
import {MerkleHelper} from "./MerkleHelper.sol";
import {CrossBlockLedger} from "../../src/CrossBlockLedger.sol";
import {ICrossBlockLedger} from "../../src/interfaces/ICrossBlockLedger.sol";
import {ICrossBlockConsortium} from "../../src/interfaces/ICrossBlockConsortium.sol";

/// @notice A ledger with three founding members (IN, FR, DE), one active signer each, and helpers to
///         build, sign and publish batches.
abstract contract LedgerFixture is Test {
    bytes2 internal constant IN = "IN";
    bytes2 internal constant FR = "FR";
    bytes2 internal constant DE = "DE";
    bytes2 internal constant BR = "BR"; // not a founding member

    uint256 internal constant ADMIN_IN_PK = 0xA11;
    uint256 internal constant ADMIN_FR_PK = 0xA12;
    uint256 internal constant ADMIN_DE_PK = 0xA13;
    uint256 internal constant ADMIN_BR_PK = 0xA14;
    uint256 internal constant SIGNER_IN_PK = 0x5111;
    uint256 internal constant SIGNER_FR_PK = 0x5112;
    uint256 internal constant SIGNER_DE_PK = 0x5113;
    uint256 internal constant SIGNER_BR_PK = 0x5114;
    uint256 internal constant OUTSIDER_PK = 0xBAD;

    bytes32 internal constant BATCH_TYPEHASH = keccak256(
        "Batch(bytes2 country,uint64 seq,bytes32 prevHead,bytes32 recordsHash,bytes32 merkleRoot,uint32 count)"
    );
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    address internal adminIN = vm.addr(ADMIN_IN_PK);
    address internal adminFR = vm.addr(ADMIN_FR_PK);
    address internal adminDE = vm.addr(ADMIN_DE_PK);
    address internal adminBR = vm.addr(ADMIN_BR_PK);
    address internal signerIN = vm.addr(SIGNER_IN_PK);
    address internal signerFR = vm.addr(SIGNER_FR_PK);
    address internal signerDE = vm.addr(SIGNER_DE_PK);
    address internal signerBR = vm.addr(SIGNER_BR_PK);
    address internal outsider = vm.addr(OUTSIDER_PK);
    address internal relayer = address(0xBEEF);

    CrossBlockLedger internal ledger;

    function setUp() public virtual {
        vm.roll(100);
        bytes2[] memory countries = new bytes2[](3);
        countries[0] = IN;
        countries[1] = FR;
        countries[2] = DE;
        address[] memory admins = new address[](3);
        admins[0] = adminIN;
        admins[1] = adminFR;
        admins[2] = adminDE;
        ledger = new CrossBlockLedger(countries, admins);
        vm.prank(adminIN);
        ledger.addSigner(IN, signerIN);
        vm.prank(adminFR);
        ledger.addSigner(FR, signerFR);
        vm.prank(adminDE);
        ledger.addSigner(DE, signerDE);
    }

    // ---------------------------------------------------------------- records

    /// @dev `count` well-formed records whose 16 bytes are all non-zero (worst case for calldata gas).
    function makeRecords(uint256 seed, uint256 count) internal pure returns (bytes memory records) {
        records = new bytes(count * 16);
        for (uint256 i; i < count; ++i) {
            uint256 x = uint256(keccak256(abi.encode(seed, i)));
            // every byte non-zero: set the low bit of each of the 16 bytes
            uint128 body = uint128(x) | uint128(0x01010101010101010101010101010101);
            uint8 typeKind = uint8(((x >> 128) % 2 + 1) << 4) | uint8((x >> 136) % 6 + 1);
            bytes16 r = bytes16((uint128(typeKind) << 120) | (body & ((uint128(1) << 120) - 1)));
            assembly ("memory-safe") {
                mstore(add(add(records, 0x20), shl(4, i)), r)
            }
        }
        // the mstore of the last record wrote 16 bytes of zeros past the end: harmless (free memory)
    }

    function withTypeKind(bytes memory records, uint256 index, uint8 typeKind) internal pure returns (bytes memory) {
        records[index * 16] = bytes1(typeKind);
        return records;
    }

    // ---------------------------------------------------------------- batches

    function nextBatch(bytes2 country, bytes memory records) internal view returns (ICrossBlockLedger.Batch memory b) {
        (bytes32 head, uint64 seq) = ledger.headOf(country);
        b = ICrossBlockLedger.Batch({
            country: country,
            seq: seq + 1,
            prevHead: head,
            recordsHash: keccak256(records),
            merkleRoot: MerkleHelper.rootOfRecords(records),
            count: uint32(records.length / 16)
        });
    }

    function structHashOf(ICrossBlockLedger.Batch memory b) internal pure returns (bytes32) {
        return keccak256(abi.encode(BATCH_TYPEHASH, b.country, b.seq, b.prevHead, b.recordsHash, b.merkleRoot, b.count));
    }

    function domainSeparatorOf(uint256 chainId, address verifyingContract) internal pure returns (bytes32) {
        return
            keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256("CrossBlock"), keccak256("1"), chainId, verifyingContract));
    }

    function digestOf(ICrossBlockLedger.Batch memory b) internal view returns (bytes32) {
        return
            keccak256(abi.encodePacked(hex"1901", domainSeparatorOf(block.chainid, address(ledger)), structHashOf(b)));
    }

    function signBatch(uint256 pk, ICrossBlockLedger.Batch memory b) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digestOf(b));
        return abi.encodePacked(r, s, v);
    }

    function publish(uint256 pk, bytes2 country, bytes memory records)
        internal
        returns (ICrossBlockLedger.Batch memory b, bytes memory sig)
    {
        b = nextBatch(country, records);
        sig = signBatch(pk, b);
        vm.prank(relayer);
        ledger.publishBatch(b, records, sig);
    }

    // ------------------------------------------------------------- governance

    function adminOf(bytes2 country) internal view returns (address) {
        return ledger.memberAdmin(country);
    }

    /// @dev Suspend `target` by votes of IN, FR and DE's admins (whichever needed, skipping `target`).
    function suspend(bytes2 target) internal {
        address first = target == IN ? adminFR : adminIN;
        address second = target == DE ? adminFR : adminDE;
        vm.prank(first);
        uint256 id = ledger.propose(ICrossBlockConsortium.ProposalKind.Suspend, target, address(0));
        vm.prank(second);
        ledger.vote(id);
    }

    function reinstate(bytes2 target) internal {
        address first = target == IN ? adminFR : adminIN;
        address second = target == DE ? adminFR : adminDE;
        vm.prank(first);
        uint256 id = ledger.propose(ICrossBlockConsortium.ProposalKind.Reinstate, target, address(0));
        if (!ledger.proposal(id).executed) {
            vm.prank(second);
            ledger.vote(id);
        }
    }
}
