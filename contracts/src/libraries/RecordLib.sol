// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title RecordLib
/// @notice The 16-byte CrossBlock record (docs/record-format.md):
///
///     offset 0  (1 byte)  typeKind        high nibble identifier type (1 IMEI, 2 MEID), low nibble kind (1..6)
///     offset 1  (7 bytes) identifier      14 nibbles packed BCD (IMEI core: TAC ‖ serial)
///     offset 8  (4 bytes) reportedAt      uint32 big-endian Unix seconds
///     offset 12 (4 bytes) caseCommitment  first 4 bytes of keccak256(salt ‖ utf8(caseRef))
library RecordLib {
    /// @notice Size of one record in bytes.
    uint256 internal constant RECORD_SIZE = 16;

    uint8 internal constant ID_IMEI = 1;
    uint8 internal constant ID_MEID = 2;

    uint8 internal constant KIND_STOLEN = 1;
    uint8 internal constant KIND_LOST = 2;
    uint8 internal constant KIND_RECOVERED = 3;
    uint8 internal constant KIND_DUPLICATED = 4;
    uint8 internal constant KIND_INVALID = 5;
    uint8 internal constant KIND_WITHDRAWN = 6;

    /// @dev Bit `b` is set iff `b` is a well-formed typeKind byte: 0x11..0x16 and 0x21..0x26.
    uint256 internal constant WELL_FORMED_BITMAP = 0x7e007e0000;

    /// @notice `firstMalformed` result when every record is well formed.
    uint256 internal constant NONE = type(uint256).max;

    /// @notice A decoded record.
    struct Record {
        uint8 idType;
        uint8 kind;
        uint56 identifier;
        uint32 reportedAt;
        bytes4 caseCommitment;
    }

    /// @notice Pack a record. Does not validate: see `isWellFormed`.
    function encode(uint8 idType, uint8 kind, uint56 identifier, uint32 reportedAt, bytes4 caseCommitment)
        internal
        pure
        returns (bytes16)
    {
        uint256 typeKind_ = (uint256(idType & 0x0f) << 4) | uint256(kind & 0x0f);
        return bytes16(
            uint128(
                (typeKind_ << 120) | (uint256(identifier) << 64) | (uint256(reportedAt) << 32)
                    | uint256(uint32(caseCommitment))
            )
        );
    }

    /// @notice Pack a decoded record.
    function encode(Record memory r) internal pure returns (bytes16) {
        return encode(r.idType, r.kind, r.identifier, r.reportedAt, r.caseCommitment);
    }

    /// @notice Unpack a record.
    /// @dev The casts below truncate on purpose: each one extracts one field of the packed record.
    function decode(bytes16 record) internal pure returns (Record memory r) {
        uint128 v = uint128(record);
        // forge-lint: disable-next-line(unsafe-typecast)
        r.idType = uint8(v >> 124);
        // forge-lint: disable-next-line(unsafe-typecast)
        r.kind = uint8(v >> 120) & 0x0f;
        // forge-lint: disable-next-line(unsafe-typecast)
        r.identifier = uint56(v >> 64);
        // forge-lint: disable-next-line(unsafe-typecast)
        r.reportedAt = uint32(v >> 32);
        // forge-lint: disable-next-line(unsafe-typecast)
        r.caseCommitment = bytes4(uint32(v));
    }

    /// @notice Byte 0 of a record.
    function typeKind(bytes16 record) internal pure returns (uint8) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint8(bytes1(record));
    }

    /// @notice Whether a typeKind byte is accepted by the ledger (type 1 or 2, kind 1..6).
    function isWellFormed(uint8 typeKind_) internal pure returns (bool) {
        return (WELL_FORMED_BITMAP >> typeKind_) & 1 == 1;
    }

    /// @notice Index of the first record whose typeKind byte is not well formed, or `NONE`.
    /// @dev Reads `records.length / 16` records. Each typeKind byte is looked up in a 256-bit bitmap
    ///      (`WELL_FORMED_BITMAP >> typeKind & 1`). Fast path: 8 records (four 32-byte calldata words,
    ///      two typeKind bytes each) per iteration with a single branch, ~25 gas per record; the group
    ///      that fails and the last `n % 8` records are then scanned one by one.
    function firstMalformed(bytes calldata records) internal pure returns (uint256 index) {
        assembly ("memory-safe") {
            let start := records.offset
            let end := add(start, and(records.length, not(0x0f)))
            let ptr := start
            let end8 := add(start, and(records.length, not(0x7f)))
            for {} lt(ptr, end8) { ptr := add(ptr, 0x80) } {
                let w0 := calldataload(ptr)
                let w1 := calldataload(add(ptr, 0x20))
                let w2 := calldataload(add(ptr, 0x40))
                let w3 := calldataload(add(ptr, 0x60))
                let ok :=
                    and(
                        and(
                            and(shr(byte(0, w0), 0x7e007e0000), shr(byte(16, w0), 0x7e007e0000)),
                            and(shr(byte(0, w1), 0x7e007e0000), shr(byte(16, w1), 0x7e007e0000))
                        ),
                        and(
                            and(shr(byte(0, w2), 0x7e007e0000), shr(byte(16, w2), 0x7e007e0000)),
                            and(shr(byte(0, w3), 0x7e007e0000), shr(byte(16, w3), 0x7e007e0000))
                        )
                    )
                if iszero(and(ok, 1)) { break }
            }
            index := not(0)
            for {} lt(ptr, end) { ptr := add(ptr, 0x10) } {
                if iszero(and(shr(byte(0, calldataload(ptr)), 0x7e007e0000), 1)) {
                    index := shr(4, sub(ptr, start))
                    break
                }
            }
        }
    }
}
