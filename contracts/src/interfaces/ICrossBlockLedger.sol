// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ICrossBlockConsortium} from "./ICrossBlockConsortium.sol";

/// @title ICrossBlockLedger
/// @notice One signed append-only log per member country. See docs/record-format.md for every byte.
interface ICrossBlockLedger is ICrossBlockConsortium {
    /// @notice The signed batch header (EIP-712 type
    ///         `Batch(bytes2 country,uint64 seq,bytes32 prevHead,bytes32 recordsHash,bytes32 merkleRoot,uint32 count)`).
    struct Batch {
        bytes2 country;
        uint64 seq;
        bytes32 prevHead;
        bytes32 recordsHash;
        bytes32 merkleRoot;
        uint32 count;
    }

    /// @notice A batch was accepted. `records` is `count` packed 16-byte records; the new head is the
    ///         EIP-712 struct hash of the batch; `signature` is the 65-byte (r,s,v) EIP-712 signature.
    event BatchPublished(
        bytes2 indexed country,
        uint64 indexed seq,
        address indexed signer,
        bytes32 prevHead,
        bytes32 recordsHash,
        bytes32 merkleRoot,
        uint32 count,
        bytes signature,
        bytes records
    );

    /// @notice Anyone proved on chain that a batch's signed Merkle root does not commit to its records.
    event BatchDisputed(bytes2 indexed country, uint64 indexed seq, bytes32 signedRoot, bytes32 computedRoot, address challenger);

    error CrossBlockSeqMismatch(bytes2 country, uint64 expected, uint64 got);
    error CrossBlockHeadMismatch(bytes2 country, bytes32 expected, bytes32 got);
    error CrossBlockEmptyBatch(bytes2 country, uint64 seq);
    error CrossBlockBatchTooLarge(uint32 count, uint32 max);
    error CrossBlockRecordsLengthMismatch(uint256 expectedLength, uint256 gotLength);
    error CrossBlockRecordsHashMismatch(bytes32 expected, bytes32 got);
    error CrossBlockMalformedRecord(uint256 index, uint8 typeKind);
    error CrossBlockInvalidSignature(bytes signature);
    error CrossBlockSignerNotActive(bytes2 country, address signer);
    error CrossBlockUnknownBatch(bytes2 country, uint64 seq);
    error CrossBlockRootNotDisputable(bytes2 country, uint64 seq, bytes32 root);

    /// @notice Append a signed batch to `batch.country`'s log. Any account may relay it.
    /// @dev Reverts unless the country is Active, seq == last + 1, prevHead == head, 1 <= count <= max,
    ///      records.length == 16 * count, keccak256(records) == recordsHash, every record is well formed
    ///      and `signature` is an EIP-712 signature over `batch` by a signer active at this block.
    /// @param batch The signed header. @param records The packed records. @param signature 65-byte signature.
    function publishBatch(Batch calldata batch, bytes calldata records, bytes calldata signature) external;

    /// @notice Prove that a batch's signed Merkle root does not match its records (fraud proof).
    ///         Marks the batch disputed: `verifyRecord` then returns false for all its records.
    /// @param country The country. @param seq The batch. @param records The batch's records (hash must match).
    function disputeBatch(bytes2 country, uint64 seq, bytes calldata records) external;

    /// @notice Latest head and seq of a country's log (0, 0 before its first batch).
    /// @param country The country. @return head The head. @return seq The last accepted seq.
    function headOf(bytes2 country) external view returns (bytes32 head, uint64 seq);

    /// @notice Merkle root of a batch. @param country The country. @param seq The seq. @return The root (0: unknown).
    function batchRoot(bytes2 country, uint64 seq) external view returns (bytes32);

    /// @notice recordsHash of a batch. @param country The country. @param seq The seq. @return The hash (0: unknown).
    function batchRecordsHash(bytes2 country, uint64 seq) external view returns (bytes32);

    /// @notice Whether a batch was proven inconsistent. @param country The country. @param seq The seq. @return Disputed.
    function isDisputed(bytes2 country, uint64 seq) external view returns (bool);

    /// @notice Check a record's Merkle inclusion proof against its batch root (OpenZeppelin MerkleProof).
    /// @param country The country. @param seq The batch. @param index The record's index in the batch.
    /// @param record The 16-byte record. @param proof Sibling hashes bottom-up. @return ok Included and undisputed.
    function verifyRecord(bytes2 country, uint64 seq, uint32 index, bytes16 record, bytes32[] calldata proof)
        external
        view
        returns (bool ok);

    /// @notice EIP-712 struct hash of a batch (= the head it produces). @param batch The batch. @return The hash.
    function batchStructHash(Batch calldata batch) external pure returns (bytes32);

    /// @notice EIP-712 digest a signer signs for `batch`. @param batch The batch. @return The digest.
    function batchDigest(Batch calldata batch) external view returns (bytes32);

    /// @notice The EIP-712 domain separator (name "CrossBlock", version "1"). @return The separator.
    function domainSeparator() external view returns (bytes32);

    /// @notice Maximum records per batch. @return The maximum.
    function maxBatchRecords() external pure returns (uint32);
}
