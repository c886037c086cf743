// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "./utils/Test.sol";
import {RecordLib} from "../src/libraries/RecordLib.sol";

/// @dev Exposes the calldata-only function.
contract RecordLibHarness {
    function firstMalformed(bytes calldata records) external pure returns (uint256) {
        return RecordLib.firstMalformed(records);
    }
}

contract RecordLibTest is Test {
    RecordLibHarness internal harness;

    function setUp() public {
        harness = new RecordLibHarness();
    }

    function _referenceWellFormed(uint8 typeKind) internal pure returns (bool) {
        uint8 idType = typeKind >> 4;
        uint8 kind = typeKind & 0x0f;
        return (idType == 1 || idType == 2) && kind >= 1 && kind <= 6;
    }

    function test_encode_byteLayout() public pure {
        // docs/record-format.md: IMEI 49015420323751 STOLEN at 1700000000, commitment 0x8e308425
        bytes16 r = RecordLib.encode(1, 1, 0x49015420323751, 1700000000, 0x8e308425);
        assertEq(r, bytes16(hex"11490154203237516553f1008e308425"), "packed");
    }

    function testFuzz_encode_roundTrip(uint8 idType, uint8 kind, uint56 identifier, uint32 reportedAt, bytes4 commit)
        public
        pure
    {
        idType = uint8(bound(idType, 0, 15));
        kind = uint8(bound(kind, 0, 15));
        bytes16 r = RecordLib.encode(idType, kind, identifier, reportedAt, commit);
        RecordLib.Record memory d = RecordLib.decode(r);
        assertEq(d.idType, idType, "idType");
        assertEq(d.kind, kind, "kind");
        assertEq(d.identifier, identifier, "identifier");
        assertEq(d.reportedAt, reportedAt, "reportedAt");
        assertEq(d.caseCommitment, commit, "caseCommitment");
        assertEq(RecordLib.encode(d), r, "re-encode");
        assertEq(RecordLib.typeKind(r), (idType << 4) | kind, "typeKind");
    }

    function testFuzz_encode_matchesByteOffsets(
        uint8 idType,
        uint8 kind,
        uint56 identifier,
        uint32 reportedAt,
        bytes4 commit
    ) public pure {
        idType = uint8(bound(idType, 0, 15));
        kind = uint8(bound(kind, 0, 15));
        bytes memory expected =
            abi.encodePacked(uint8((idType << 4) | kind), bytes7(identifier), bytes4(reportedAt), commit);
        assertEq(expected.length, 16, "length");
        assertEq(abi.encodePacked(RecordLib.encode(idType, kind, identifier, reportedAt, commit)), expected, "layout");
    }

    function testFuzz_decode_roundTrip(bytes16 r) public pure {
        assertEq(RecordLib.encode(RecordLib.decode(r)), r, "decode then encode");
    }

    function test_isWellFormed_exhaustive() public pure {
        uint256 valid;
        for (uint256 t; t < 256; ++t) {
            bool expected = _referenceWellFormed(uint8(t));
            assertEq(RecordLib.isWellFormed(uint8(t)), expected, "isWellFormed");
            if (expected) ++valid;
        }
        assertEq(valid, 12, "12 well-formed typeKind bytes");
    }

    function test_firstMalformed_exhaustiveEveryPosition() public view {
        // every typeKind byte at every position of a 19-record batch (covers the 8-record fast path,
        // both halves of a word and the tail)
        for (uint256 t; t < 256; ++t) {
            for (uint256 pos; pos < 19; pos += 3) {
                bytes memory records = new bytes(19 * 16);
                for (uint256 i; i < 19; ++i) {
                    records[i * 16] = 0x11;
                }
                records[pos * 16] = bytes1(uint8(t));
                uint256 expected = _referenceWellFormed(uint8(t)) ? RecordLib.NONE : pos;
                assertEq(harness.firstMalformed(records), expected, "firstMalformed");
            }
        }
    }

    function testFuzz_firstMalformed_matchesReference(bytes memory raw, uint256 salt) public view {
        uint256 n = raw.length / 16;
        bytes memory records = new bytes(n * 16);
        for (uint256 i; i < n * 16; ++i) {
            records[i] = raw[i];
        }
        // mostly well-formed typeKind bytes, so that the first bad one can be anywhere
        for (uint256 i; i < n; ++i) {
            uint256 x = uint256(keccak256(abi.encode(salt, i)));
            if (x % 8 != 0) records[i * 16] = bytes1(uint8(((x >> 8) % 2 + 1) << 4 | ((x >> 16) % 6 + 1)));
        }
        uint256 expected = RecordLib.NONE;
        for (uint256 i; i < n; ++i) {
            if (!_referenceWellFormed(uint8(records[i * 16]))) {
                expected = i;
                break;
            }
        }
        assertEq(harness.firstMalformed(records), expected, "firstMalformed");
    }

    function test_firstMalformed_ignoresPartialTrailingRecord() public view {
        bytes memory records = new bytes(40); // 2 records + 8 bytes
        records[0] = 0x11;
        records[16] = 0x26;
        assertEq(harness.firstMalformed(records), RecordLib.NONE, "only complete records");
        assertEq(harness.firstMalformed(""), RecordLib.NONE, "empty");
    }
}
