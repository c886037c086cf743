// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Reference (slow, straightforward) implementation of the batch Merkle tree of
///         docs/record-format.md, independent of src/libraries/MerkleLib.sol, for tests.
library MerkleHelper {
    /// @dev Record `i` of packed 16-byte records.
    function recordAt(bytes memory records, uint256 i) internal pure returns (bytes16 r) {
        require(records.length % 16 == 0 && i < records.length / 16, "recordAt: out of range");
        bytes memory one = new bytes(16);
        for (uint256 k; k < 16; ++k) {
            one[k] = records[i * 16 + k];
        }
        r = bytes16(one);
    }

    /// @dev The first `n` records.
    function recordsPrefix(bytes memory records, uint256 n) internal pure returns (bytes memory out) {
        out = new bytes(n * 16);
        for (uint256 k; k < n * 16; ++k) {
            out[k] = records[k];
        }
    }

    function leafOf(uint256 i, bytes16 record) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(uint32(i), record));
    }

    function leaves(bytes memory records) internal pure returns (bytes32[] memory out) {
        uint256 n = records.length / 16;
        out = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            out[i] = leafOf(i, recordAt(records, i));
        }
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    function nextLevel(bytes32[] memory level) internal pure returns (bytes32[] memory up) {
        uint256 n = level.length;
        up = new bytes32[]((n + 1) / 2);
        for (uint256 j; j < n / 2; ++j) {
            up[j] = hashPair(level[2 * j], level[2 * j + 1]);
        }
        if (n % 2 == 1) up[n / 2] = level[n - 1];
    }

    function root(bytes32[] memory level) internal pure returns (bytes32) {
        require(level.length > 0, "root: empty");
        while (level.length > 1) {
            level = nextLevel(level);
        }
        return level[0];
    }

    function rootOfRecords(bytes memory records) internal pure returns (bytes32) {
        return root(leaves(records));
    }

    /// @dev Sibling hashes bottom-up, skipping levels where the node has no sibling.
    function proof(bytes32[] memory level, uint256 index) internal pure returns (bytes32[] memory out) {
        bytes32[] memory tmp = new bytes32[](64);
        uint256 len;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) tmp[len++] = level[sibling];
            level = nextLevel(level);
            index /= 2;
        }
        out = new bytes32[](len);
        for (uint256 k; k < len; ++k) {
            out[k] = tmp[k];
        }
    }
}
