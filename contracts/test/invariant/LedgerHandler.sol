// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Vm} from "../utils/Vm.sol";
import {MerkleHelper} from "../utils/MerkleHelper.sol";
import {CrossBlockLedger} from "../../src/CrossBlockLedger.sol";
import {ICrossBlockLedger as IL} from "../../src/interfaces/ICrossBlockLedger.sol";
import {ICrossBlockConsortium as IC} from "../../src/interfaces/ICrossBlockConsortium.sol";

/// @notice Drives a ledger with random valid and invalid batches, signer changes, suspensions and
///         reinstatements, and keeps an independent model (ghost state) of what must have happened.
contract LedgerHandler {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    bytes32 internal constant BATCH_TYPEHASH = keccak256(
        "Batch(bytes2 country,uint64 seq,bytes32 prevHead,bytes32 recordsHash,bytes32 merkleRoot,uint32 count)"
    );
    uint256 public constant COUNTRIES = 3;
    uint256 public constant KEYS = 4; // signing keys per country (the pool; not all are added)

    CrossBlockLedger public immutable ledger;
    bytes2[COUNTRIES] public countries;
    address[COUNTRIES] public admins;

    // ---- ghost state: the model
    mapping(bytes2 => uint64) public ghostSeq;
    mapping(bytes2 => bytes32) public ghostHead;
    mapping(bytes2 => bytes32) public ghostLastRoot;
    mapping(bytes2 => bytes32) public ghostLastRecordsHash;
    mapping(bytes2 => bool) public ghostSuspended;
    mapping(bytes2 => uint64) public seqAtSuspension;
    mapping(bytes2 => mapping(uint256 => uint64)) internal ghostFrom;
    mapping(bytes2 => mapping(uint256 => uint64)) internal ghostRevokedAt;

    // ---- violations seen by the handler (must stay 0)
    uint256 public acceptedWithoutActiveSigner;
    uint256 public acceptedInvalidBatch;
    uint256 public rejectedValidBatch;
    uint256 public signerModelMismatch;

    // ---- statistics (to see that the campaign does something)
    uint256 public accepted;
    uint256 public rejected;
    uint256 public suspensions;
    uint256 public reinstatements;

    constructor(CrossBlockLedger ledger_, bytes2[COUNTRIES] memory countries_, address[COUNTRIES] memory admins_) {
        ledger = ledger_;
        countries = countries_;
        admins = admins_;
        for (uint256 c; c < COUNTRIES; ++c) {
            _addSigner(c, 0); // key 0 of every country starts active
        }
    }

    function signerPk(uint256 c, uint256 k) public pure returns (uint256) {
        return 0x5000 + c * 16 + k;
    }

    function modelSignerActive(bytes2 country, uint256 k, uint256 blockNumber) public view returns (bool) {
        uint64 from = ghostFrom[country][k];
        uint64 revokedAt = ghostRevokedAt[country][k];
        return from != 0 && from <= blockNumber && (revokedAt == 0 || blockNumber < revokedAt);
    }

    // =========================================================== actions

    function roll(uint8 blocks) external {
        vm.roll(block.number + 1 + (blocks % 5));
    }

    /// @notice Publish a correctly built next batch signed by some key of the pool (of this or another
    ///         country, active or not). Accepted iff the country is Active and the key is active for it.
    function publishValid(uint256 cSeed, uint256 keySeed, uint8 countSeed, uint256 recordSeed) external {
        uint256 c = cSeed % COUNTRIES;
        bytes2 country = countries[c];
        // mostly an active key of the country, sometimes any key of its pool or a key of another country
        uint256 keyCountry = keySeed % 8 == 0 ? (c + 1) % COUNTRIES : c;
        uint256 k = keySeed % 8 < 3 ? (keySeed >> 8) % KEYS : _firstActiveKey(c);
        uint256 count = 1 + (countSeed % 8);
        bytes memory records = _records(recordSeed, count);
        IL.Batch memory b = _nextBatch(country, records);
        bytes memory sig = _sign(signerPk(keyCountry, k), b);

        bool expectOk = !ghostSuspended[country] && keyCountry == c && modelSignerActive(country, k, block.number);
        bool ok = _publish(b, records, sig);
        if (ok) {
            if (!(keyCountry == c && modelSignerActive(country, k, block.number))) ++acceptedWithoutActiveSigner;
            _accept(b);
        }
        if (ok != expectOk) {
            if (ok) ++acceptedInvalidBatch;
            else ++rejectedValidBatch;
        }
    }

    /// @notice Publish a batch with exactly one defect, signed by an active key: must be rejected.
    function publishInvalid(uint256 cSeed, uint8 mode, uint8 countSeed, uint256 recordSeed) external {
        uint256 c = cSeed % COUNTRIES;
        bytes2 country = countries[c];
        uint256 count = 1 + (countSeed % 8);
        bytes memory records = _records(recordSeed, count);
        IL.Batch memory b = _nextBatch(country, records);
        uint256 m = mode % 7;
        if (m == 0) b.seq += 1 + uint64(recordSeed % 3); // gap
        else if (m == 1) b.seq = b.seq - 1; // replay (or seq 0)
        else if (m == 2) b.prevHead = keccak256(abi.encode(b.prevHead, recordSeed)); // fork
        else if (m == 3) b.recordsHash = ~b.recordsHash; // records do not match
        else if (m == 4) b.count = uint32(count + 1); // length mismatch
        else if (m == 5) records[16 * (recordSeed % count)] = bytes1(uint8(0x07 + 0x30 * (recordSeed % 2))); // malformed
        // m == 6: signed by a key that was never added (pool index beyond KEYS)
        if (m == 5) b.recordsHash = keccak256(records);
        bytes memory sig = _sign(m == 6 ? signerPk(c, KEYS + 1) : _anyActiveKeyPk(c), b);
        if (_publish(b, records, sig)) {
            ++acceptedInvalidBatch;
            _accept(b);
        }
    }

    function addSigner(uint256 cSeed, uint256 kSeed) external {
        uint256 c = cSeed % COUNTRIES;
        _addSigner(c, kSeed % KEYS);
    }

    function revokeSigner(uint256 cSeed, uint256 kSeed) external {
        uint256 c = cSeed % COUNTRIES;
        uint256 k = kSeed % KEYS;
        bytes2 country = countries[c];
        address signer = vm.addr(signerPk(c, k));
        vm.prank(admins[c]);
        try ledger.revokeSigner(country, signer) {
            if (ghostFrom[country][k] == 0 || ghostRevokedAt[country][k] != 0) ++signerModelMismatch;
            ghostRevokedAt[country][k] = uint64(block.number);
        } catch {
            if (ghostFrom[country][k] != 0 && ghostRevokedAt[country][k] == 0) ++signerModelMismatch;
        }
    }

    /// @dev Acts on one call in three, so that logs spend most of the campaign Active.
    function suspend(uint256 cSeed) external {
        if ((cSeed >> 8) % 3 != 0) return;
        uint256 c = cSeed % COUNTRIES;
        bytes2 target = countries[c];
        if (_vote(IC.ProposalKind.Suspend, target)) {
            ghostSuspended[target] = true;
            seqAtSuspension[target] = ghostSeq[target];
            ++suspensions;
        }
    }

    function reinstate(uint256 cSeed) external {
        uint256 c = cSeed % COUNTRIES;
        bytes2 target = countries[c];
        if (_vote(IC.ProposalKind.Reinstate, target)) {
            ghostSuspended[target] = false;
            ++reinstatements;
        }
    }

    // ========================================================== internals

    function _addSigner(uint256 c, uint256 k) internal {
        bytes2 country = countries[c];
        address signer = vm.addr(signerPk(c, k));
        vm.prank(admins[c]);
        try ledger.addSigner(country, signer) {
            if (ghostFrom[country][k] != 0) ++signerModelMismatch;
            ghostFrom[country][k] = uint64(block.number);
        } catch {
            if (ghostFrom[country][k] == 0) ++signerModelMismatch;
        }
    }

    /// @dev Propose with the first active admin, vote with the others until executed.
    function _vote(IC.ProposalKind kind, bytes2 target) internal returns (bool executed) {
        uint256 id;
        uint256 c;
        for (; c < COUNTRIES; ++c) {
            if (!ghostSuspended[countries[c]]) break;
        }
        if (c == COUNTRIES) return false;
        vm.prank(admins[c]);
        try ledger.propose(kind, target, address(0)) returns (uint256 id_) {
            id = id_;
        } catch {
            return false;
        }
        for (uint256 v = c + 1; v < COUNTRIES && !ledger.proposal(id).executed; ++v) {
            if (ghostSuspended[countries[v]]) continue;
            vm.prank(admins[v]);
            ledger.vote(id);
        }
        return ledger.proposal(id).executed;
    }

    function _firstActiveKey(uint256 c) internal view returns (uint256) {
        bytes2 country = countries[c];
        for (uint256 k; k < KEYS; ++k) {
            if (modelSignerActive(country, k, block.number)) return k;
        }
        return 0;
    }

    function _anyActiveKeyPk(uint256 c) internal view returns (uint256) {
        return signerPk(c, _firstActiveKey(c));
    }

    function _publish(IL.Batch memory b, bytes memory records, bytes memory sig) internal returns (bool ok) {
        try ledger.publishBatch(b, records, sig) {
            ok = true;
            ++accepted;
        } catch {
            ++rejected;
        }
    }

    function _accept(IL.Batch memory b) internal {
        ghostSeq[b.country] += 1;
        ghostHead[b.country] =
            keccak256(abi.encode(BATCH_TYPEHASH, b.country, b.seq, b.prevHead, b.recordsHash, b.merkleRoot, b.count));
        ghostLastRoot[b.country] = b.merkleRoot;
        ghostLastRecordsHash[b.country] = b.recordsHash;
    }

    function _records(uint256 seed, uint256 count) internal pure returns (bytes memory records) {
        records = new bytes(count * 16);
        for (uint256 i; i < count; ++i) {
            bytes32 x = keccak256(abi.encode(seed, i));
            for (uint256 j = 1; j < 16; ++j) {
                records[i * 16 + j] = x[j];
            }
            records[i * 16] = bytes1(uint8(((uint8(x[0]) % 2 + 1) << 4) | (uint8(x[16]) % 6 + 1)));
        }
    }

    function _nextBatch(bytes2 country, bytes memory records) internal view returns (IL.Batch memory b) {
        // built from the model, not from the contract: a divergence shows up as rejections
        b = IL.Batch({
            country: country,
            seq: ghostSeq[country] + 1,
            prevHead: ghostHead[country],
            recordsHash: keccak256(records),
            merkleRoot: MerkleHelper.rootOfRecords(records),
            count: uint32(records.length / 16)
        });
    }

    function _sign(uint256 pk, IL.Batch memory b) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, ledger.batchDigest(b));
        return abi.encodePacked(r, s, v);
    }
}
