// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {ICrossBlockLedger} from "./interfaces/ICrossBlockLedger.sol";
import {CrossBlockConsortium} from "./CrossBlockConsortium.sol";
import {RecordLib} from "./libraries/RecordLib.sol";
import {MerkleLib} from "./libraries/MerkleLib.sol";

/// @title CrossBlockLedger
/// @notice One signed append-only log of stolen/lost device records per member country
///         (docs/record-format.md). A batch is an EIP-712 signed header plus its packed records, which
///         are only emitted in `BatchPublished`, never stored. The contract checks the header chain,
///         `keccak256(records)` and every record's type/kind byte, and stores the head, the records hash
///         and the *signed* Merkle root without recomputing it (docs/decisions/0001-optimistic-merkle-root.md);
///         `disputeBatch` is the on-chain fraud proof for a root that does not match its records.
/// @dev Behaviour where the interface is silent:
///      - `disputeBatch` on a batch already disputed reverts `CrossBlockRootNotDisputable(country, seq, root)`
///        (checked before the records); disputes also work for batches of a Suspended member.
///      - `verifyRecord` returns false (never reverts) for unknown or disputed batches.
///      - A signature that is not 65 bytes, has a high `s`, a `v` other than 27/28 or recovers to
///        nothing reverts `CrossBlockInvalidSignature(signature)` (OpenZeppelin `ECDSA.tryRecover` rules).
contract CrossBlockLedger is CrossBlockConsortium, EIP712, ICrossBlockLedger {
    /// @notice EIP-712 type hash of `Batch`.
    bytes32 public constant BATCH_TYPEHASH = keccak256(
        "Batch(bytes2 country,uint64 seq,bytes32 prevHead,bytes32 recordsHash,bytes32 merkleRoot,uint32 count)"
    );

    uint32 private constant MAX_BATCH_RECORDS = 10_000;

    /// @dev The two commitments of an accepted batch (recordsHash != 0 marks a known batch).
    struct BatchCommitment {
        bytes32 merkleRoot;
        bytes32 recordsHash;
    }

    mapping(bytes2 => bytes32) private _heads;
    mapping(bytes2 => mapping(uint64 => BatchCommitment)) private _batches;
    mapping(bytes2 => mapping(uint64 => bool)) private _disputed;

    /// @param foundingCountries Founding members (Active). @param admins Their admin keys.
    constructor(bytes2[] memory foundingCountries, address[] memory admins)
        CrossBlockConsortium(foundingCountries, admins)
        EIP712("CrossBlock", "1")
    {}

    // ------------------------------------------------------------------ write

    /// @inheritdoc ICrossBlockLedger
    function publishBatch(Batch calldata batch, bytes calldata records, bytes calldata signature) external {
        bytes2 country = batch.country;
        Member storage m = _member(country);
        if (m.status != MemberStatus.Active) revert CrossBlockNotActiveMember(country);
        uint64 seq = batch.seq;
        {
            uint64 expected = m.seq + 1;
            if (seq != expected) revert CrossBlockSeqMismatch(country, expected, seq);
        }
        {
            bytes32 head = _heads[country];
            if (batch.prevHead != head) revert CrossBlockHeadMismatch(country, head, batch.prevHead);
        }
        {
            uint32 count = batch.count;
            if (count == 0) revert CrossBlockEmptyBatch(country, seq);
            if (count > MAX_BATCH_RECORDS) revert CrossBlockBatchTooLarge(count, MAX_BATCH_RECORDS);
            if (records.length != uint256(count) * RecordLib.RECORD_SIZE) {
                revert CrossBlockRecordsLengthMismatch(uint256(count) * RecordLib.RECORD_SIZE, records.length);
            }
        }
        // The records are copied to memory once, where the event data is laid out, and hashed there.
        (uint256 eventData, bytes32 computedHash) = _stageRecords(records, signature.length);
        if (computedHash != batch.recordsHash) revert CrossBlockRecordsHashMismatch(batch.recordsHash, computedHash);
        {
            uint256 bad = RecordLib.firstMalformed(records);
            if (bad != RecordLib.NONE) {
                revert CrossBlockMalformedRecord(bad, uint8(records[bad * RecordLib.RECORD_SIZE]));
            }
        }
        bytes32 structHash = _structHash(batch);
        address signer = _recoverSigner(_hashTypedDataV4(structHash), signature);
        if (!_isActiveSigner(country, signer, block.number)) revert CrossBlockSignerNotActive(country, signer);

        m.seq = seq;
        _heads[country] = structHash;
        _batches[country][seq] = BatchCommitment({merkleRoot: batch.merkleRoot, recordsHash: batch.recordsHash});
        _emitBatchPublished(eventData, batch, signer, signature);
    }

    /// @inheritdoc ICrossBlockLedger
    function disputeBatch(bytes2 country, uint64 seq, bytes calldata records) external {
        BatchCommitment storage b = _batches[country][seq];
        bytes32 storedHash = b.recordsHash;
        if (storedHash == bytes32(0)) revert CrossBlockUnknownBatch(country, seq);
        bytes32 signedRoot = b.merkleRoot;
        if (_disputed[country][seq]) revert CrossBlockRootNotDisputable(country, seq, signedRoot);
        bytes32 got = keccak256(records);
        if (got != storedHash) revert CrossBlockRecordsHashMismatch(storedHash, got);
        // the hash matches, so these are the published records: length is 16 * count, count >= 1
        bytes32 computedRoot = MerkleLib.root(records);
        if (computedRoot == signedRoot) revert CrossBlockRootNotDisputable(country, seq, signedRoot);
        _disputed[country][seq] = true;
        emit BatchDisputed(country, seq, signedRoot, computedRoot, msg.sender);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICrossBlockLedger
    function headOf(bytes2 country) external view returns (bytes32 head, uint64 seq) {
        return (_heads[country], _member(country).seq);
    }

    /// @inheritdoc ICrossBlockLedger
    function batchRoot(bytes2 country, uint64 seq) external view returns (bytes32) {
        return _batches[country][seq].merkleRoot;
    }

    /// @inheritdoc ICrossBlockLedger
    function batchRecordsHash(bytes2 country, uint64 seq) external view returns (bytes32) {
        return _batches[country][seq].recordsHash;
    }

    /// @inheritdoc ICrossBlockLedger
    function isDisputed(bytes2 country, uint64 seq) external view returns (bool) {
        return _disputed[country][seq];
    }

    /// @inheritdoc ICrossBlockLedger
    function verifyRecord(bytes2 country, uint64 seq, uint32 index, bytes16 record, bytes32[] calldata proof)
        external
        view
        returns (bool ok)
    {
        BatchCommitment storage b = _batches[country][seq];
        if (b.recordsHash == bytes32(0) || _disputed[country][seq]) return false;
        return MerkleProof.verifyCalldata(proof, b.merkleRoot, MerkleLib.leaf(index, record));
    }

    /// @inheritdoc ICrossBlockLedger
    function batchStructHash(Batch calldata batch) external pure returns (bytes32) {
        return _structHash(batch);
    }

    /// @inheritdoc ICrossBlockLedger
    function batchDigest(Batch calldata batch) external view returns (bytes32) {
        return _hashTypedDataV4(_structHash(batch));
    }

    /// @inheritdoc ICrossBlockLedger
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc ICrossBlockLedger
    function maxBatchRecords() external pure returns (uint32) {
        return MAX_BATCH_RECORDS;
    }

    // --------------------------------------------------------------- internal

    function _structHash(Batch calldata batch) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                BATCH_TYPEHASH,
                batch.country,
                batch.seq,
                batch.prevHead,
                batch.recordsHash,
                batch.merkleRoot,
                batch.count
            )
        );
    }

    /// @dev EIP-712 signer of `digest`, or revert `CrossBlockInvalidSignature(signature)`.
    function _recoverSigner(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length == 65) {
            bytes32 r;
            bytes32 s;
            uint8 v;
            assembly ("memory-safe") {
                r := calldataload(signature.offset)
                s := calldataload(add(signature.offset, 0x20))
                v := byte(0, calldataload(add(signature.offset, 0x40)))
            }
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, v, r, s);
            if (err == ECDSA.RecoverError.NoError) return signer;
        }
        revert CrossBlockInvalidSignature(signature);
    }

    /// @dev Allocates the ABI-encoded data of `BatchPublished`, copies the records (length word, data,
    ///      zero padding) to their final place in it and hashes them there. The rest is written by
    ///      `_emitBatchPublished`. Layout (offsets from `ptr`): 0x00 prevHead, 0x20 recordsHash,
    ///      0x40 merkleRoot, 0x60 count, 0x80 offset of signature (0xc0), 0xa0 offset of records
    ///      (0xe0 + pad32(sigLen)), 0xc0 sigLen, 0xe0 signature (zero padded), then records length and data.
    function _stageRecords(bytes calldata records, uint256 sigLen) private pure returns (uint256 ptr, bytes32 hash) {
        assembly ("memory-safe") {
            ptr := mload(0x40)
            let recLenPos := add(add(ptr, 0xe0), and(add(sigLen, 0x1f), not(0x1f)))
            let data := add(recLenPos, 0x20)
            mstore(recLenPos, records.length)
            calldatacopy(data, records.offset, records.length)
            hash := keccak256(data, records.length)
            let end := add(data, records.length)
            mstore(end, 0) // zero padding (records.length is a multiple of 16)
            mstore(0x40, add(end, 0x20))
        }
    }

    function _emitBatchPublished(uint256 ptr, Batch calldata batch, address signer, bytes calldata signature) private {
        bytes32 topic0 = BatchPublished.selector;
        assembly ("memory-safe") {
            let sigLen := signature.length
            let sigPad := and(add(sigLen, 0x1f), not(0x1f))
            // prevHead, recordsHash, merkleRoot (validated bytes32) and count (read as uint32 when checked)
            calldatacopy(ptr, add(batch, 0x40), 0x60)
            mstore(add(ptr, 0x60), and(calldataload(add(batch, 0xa0)), 0xffffffff))
            mstore(add(ptr, 0x80), 0xc0)
            mstore(add(ptr, 0xa0), add(0xe0, sigPad))
            mstore(add(ptr, add(0xc0, sigPad)), 0) // zero padding of the signature's last word
            mstore(add(ptr, 0xc0), sigLen)
            calldatacopy(add(ptr, 0xe0), signature.offset, sigLen)
            let recLen := mload(add(add(ptr, 0xe0), sigPad))
            let size := add(add(0x100, sigPad), and(add(recLen, 0x1f), not(0x1f)))
            log4(
                ptr,
                size,
                topic0,
                and(calldataload(batch), shl(240, 0xffff)),
                and(calldataload(add(batch, 0x20)), 0xffffffffffffffff),
                signer
            )
        }
    }
}
