// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title MerkleLib
/// @notice The CrossBlock batch Merkle tree (docs/record-format.md), compatible with OpenZeppelin
///         `MerkleProof`: leaf_i = keccak256(uint32_be(i) ‖ record_i) (20-byte preimage), inner node =
///         keccak256(min(a, b) ‖ max(a, b)); leaves in record order; each level pairs (0,1), (2,3), … and
///         carries an odd last node up unchanged.
library MerkleLib {
    /// @notice Leaf of record `index`.
    function leaf(uint32 index, bytes16 record) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, or(shl(224, index), shr(32, record)))
            h := keccak256(0x00, 20)
        }
    }

    /// @notice Commutative pair hash (as OpenZeppelin `Hashes.commutativeKeccak256`).
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let lo := a
            let hi := b
            if gt(a, b) {
                lo := b
                hi := a
            }
            mstore(0x00, lo)
            mstore(0x20, hi)
            h := keccak256(0x00, 0x40)
        }
    }

    /// @notice Merkle root of packed 16-byte records (`records.length` a non-zero multiple of 16).
    /// @dev Builds the leaf level in free memory (not allocated) and reduces it in place.
    function root(bytes calldata records) internal pure returns (bytes32 r) {
        assembly ("memory-safe") {
            let n := shr(4, records.length)
            let buf := mload(0x40)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                // uint32_be(i) ‖ record_i in the first 20 bytes of scratch space
                mstore(0x00, or(shl(224, i), shr(32, calldataload(add(records.offset, shl(4, i))))))
                mstore(add(buf, shl(5, i)), keccak256(0x00, 20))
            }
            for { let m := n } gt(m, 1) {} {
                let half := shr(1, m)
                for { let j := 0 } lt(j, half) { j := add(j, 1) } {
                    let a := mload(add(buf, shl(6, j)))
                    let b := mload(add(buf, add(shl(6, j), 0x20)))
                    switch gt(a, b)
                    case 0 {
                        mstore(0x00, a)
                        mstore(0x20, b)
                    }
                    default {
                        mstore(0x00, b)
                        mstore(0x20, a)
                    }
                    mstore(add(buf, shl(5, j)), keccak256(0x00, 0x40))
                }
                if and(m, 1) { mstore(add(buf, shl(5, half)), mload(add(buf, shl(5, sub(m, 1))))) }
                m := add(half, and(m, 1))
            }
            r := mload(buf)
        }
    }
}
