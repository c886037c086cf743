// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ICrossBlockConsortium} from "./interfaces/ICrossBlockConsortium.sol";

/// @title CrossBlockConsortium
/// @notice Member countries, majority-vote governance and per-country signing keys.
/// @dev There is no owner and no privileged account: founding members are fixed at deployment, every
///      later change of membership goes through `propose`/`vote`, and each country's admin only
///      manages that country's own admin key and signing keys.
///
///      Behaviour where the interface is silent:
///      - Caller of `propose`/`vote` not an admin at all: `CrossBlockNotAdmin(0x0000, caller)`; admin of a
///        non-Active member: `CrossBlockNotActiveMember(country)`.
///      - `propose` checks the target code first (`CrossBlockInvalidCountry`), then the proposal's validity;
///        an invalid proposal reverts with `CrossBlockProposalInvalid(0, kind, target, status)` (id 0: none
///        was created). The same check is repeated when the majority is reached, then with the real id.
///        Valid means: Admit — target None, admin non-zero and not an admin of any country; Suspend —
///        target Active, admin 0, and at least one other Active member would remain; Reinstate — target
///        Suspended, admin 0.
///      - `createdAt` is the block number. Proposals do not expire. A vote counts the voter's country;
///        the majority is `votes * 2 > activeMemberCount()` at the time of that vote.
///      - When a proposal executes, the membership event is emitted before `ProposalExecuted`.
///      - `setAdmin`, `addSigner` and `revokeSigner` also work for a Suspended member (key rotation and
///        revocation must stay possible); they revert `CrossBlockUnknownMember` for a non-member and
///        `CrossBlockNotAdmin(country, caller)` for anyone but the country's admin.
///      - Re-adding a revoked signer reverts `CrossBlockSignerAlreadyRevoked`; adding an active (or
///        not yet active) one reverts `CrossBlockSignerAlreadyAdded`.
abstract contract CrossBlockConsortium is ICrossBlockConsortium {
    /// @dev One slot: status, admin and the seq of the country's log. The seq is maintained by the ledger;
    ///      it lives here because every publish reads the status anyway (one SLOAD, one SSTORE).
    struct Member {
        MemberStatus status;
        address admin;
        uint64 seq;
    }

    /// @dev [activeFrom, revokedAt) in blocks; revokedAt 0 = not revoked; activeFrom 0 = unknown.
    struct SignerInfo {
        uint64 activeFrom;
        uint64 revokedAt;
    }

    mapping(bytes2 => Member) private _members;
    mapping(address => bytes2) private _countryOfAdmin;
    bytes2[] private _memberList;
    uint256 private _activeCount;

    uint256 private _proposalCount;
    mapping(uint256 => Proposal) private _proposals;
    mapping(uint256 => mapping(bytes2 => bool)) private _voted;

    mapping(bytes2 => mapping(address => SignerInfo)) private _signers;

    /// @param foundingCountries Founding members (Active), ISO 3166-1 alpha-2 codes, no duplicates.
    /// @param admins Their admin keys, one distinct non-zero address per country.
    constructor(bytes2[] memory foundingCountries, address[] memory admins) {
        uint256 n = foundingCountries.length;
        if (n == 0 || n != admins.length) revert CrossBlockFoundingMismatch(n, admins.length);
        for (uint256 i; i < n; ++i) {
            bytes2 country = foundingCountries[i];
            address admin = admins[i];
            if (!_isValidCountry(country)) revert CrossBlockInvalidCountry(country);
            if (_members[country].status != MemberStatus.None) revert CrossBlockAlreadyMember(country);
            if (admin == address(0)) revert CrossBlockZeroAddress();
            if (_countryOfAdmin[admin] != bytes2(0)) revert CrossBlockAdminInUse(admin);
            _admit(country, admin);
        }
    }

    // ------------------------------------------------------------- governance

    /// @inheritdoc ICrossBlockConsortium
    function propose(ProposalKind kind, bytes2 target, address admin) external returns (uint256 id) {
        bytes2 proposer = _activeCallerCountry();
        if (!_isValidCountry(target)) revert CrossBlockInvalidCountry(target);
        _checkProposal(0, kind, target, admin);
        id = ++_proposalCount;
        _proposals[id] = Proposal({
            kind: kind, target: target, admin: admin, votes: 1, executed: false, createdAt: uint64(block.number)
        });
        _voted[id][proposer] = true;
        emit ProposalCreated(id, kind, target, admin, proposer);
        if (2 > _activeCount) _execute(id);
    }

    /// @inheritdoc ICrossBlockConsortium
    function vote(uint256 id) external {
        bytes2 voter = _activeCallerCountry();
        if (id == 0 || id > _proposalCount) revert CrossBlockUnknownProposal(id);
        Proposal storage p = _proposals[id];
        if (p.executed) revert CrossBlockProposalExecuted(id);
        if (_voted[id][voter]) revert CrossBlockAlreadyVoted(id, voter);
        _voted[id][voter] = true;
        uint32 votes = p.votes + 1;
        p.votes = votes;
        emit ProposalVoted(id, voter, votes);
        if (uint256(votes) * 2 > _activeCount) _execute(id);
    }

    /// @inheritdoc ICrossBlockConsortium
    function setAdmin(bytes2 country, address newAdmin) external {
        Member storage m = _onlyCountryAdmin(country);
        if (newAdmin == address(0)) revert CrossBlockZeroAddress();
        if (_countryOfAdmin[newAdmin] != bytes2(0)) revert CrossBlockAdminInUse(newAdmin);
        delete _countryOfAdmin[msg.sender];
        _countryOfAdmin[newAdmin] = country;
        m.admin = newAdmin;
        emit AdminChanged(country, msg.sender, newAdmin);
    }

    /// @inheritdoc ICrossBlockConsortium
    function addSigner(bytes2 country, address signer) external {
        _onlyCountryAdmin(country);
        if (signer == address(0)) revert CrossBlockZeroAddress();
        SignerInfo storage s = _signers[country][signer];
        if (s.revokedAt != 0) revert CrossBlockSignerAlreadyRevoked(country, signer);
        if (s.activeFrom != 0) revert CrossBlockSignerAlreadyAdded(country, signer);
        s.activeFrom = uint64(block.number);
        emit SignerAdded(country, signer, uint64(block.number));
    }

    /// @inheritdoc ICrossBlockConsortium
    function revokeSigner(bytes2 country, address signer) external {
        _onlyCountryAdmin(country);
        SignerInfo storage s = _signers[country][signer];
        if (s.activeFrom == 0) revert CrossBlockSignerUnknown(country, signer);
        if (s.revokedAt != 0) revert CrossBlockSignerAlreadyRevoked(country, signer);
        s.revokedAt = uint64(block.number);
        emit SignerRevoked(country, signer, uint64(block.number));
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICrossBlockConsortium
    function memberStatus(bytes2 country) external view returns (MemberStatus) {
        return _members[country].status;
    }

    /// @inheritdoc ICrossBlockConsortium
    function memberAdmin(bytes2 country) external view returns (address) {
        return _members[country].admin;
    }

    /// @inheritdoc ICrossBlockConsortium
    function countryOfAdmin(address admin) external view returns (bytes2) {
        return _countryOfAdmin[admin];
    }

    /// @inheritdoc ICrossBlockConsortium
    function members() external view returns (bytes2[] memory) {
        return _memberList;
    }

    /// @inheritdoc ICrossBlockConsortium
    function activeMemberCount() external view returns (uint256) {
        return _activeCount;
    }

    /// @inheritdoc ICrossBlockConsortium
    /// @dev Reverts `CrossBlockUnknownProposal(id)` for an id that was never created.
    function proposal(uint256 id) external view returns (Proposal memory) {
        if (id == 0 || id > _proposalCount) revert CrossBlockUnknownProposal(id);
        return _proposals[id];
    }

    /// @notice Number of proposals created so far (= the last id). @return The count.
    function proposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    /// @inheritdoc ICrossBlockConsortium
    function hasVoted(uint256 id, bytes2 country) external view returns (bool) {
        return _voted[id][country];
    }

    /// @inheritdoc ICrossBlockConsortium
    function signerInfo(bytes2 country, address signer) external view returns (uint64 activeFrom, uint64 revokedAt) {
        SignerInfo storage s = _signers[country][signer];
        return (s.activeFrom, s.revokedAt);
    }

    /// @inheritdoc ICrossBlockConsortium
    function isActiveSigner(bytes2 country, address signer, uint256 blockNumber) external view returns (bool) {
        return _isActiveSigner(country, signer, blockNumber);
    }

    // --------------------------------------------------------------- internal

    /// @dev Storage of a member (status, admin, log seq) for the ledger.
    function _member(bytes2 country) internal view returns (Member storage) {
        return _members[country];
    }

    /// @dev Whether `signer` is an active key of `country` at `blockNumber`.
    function _isActiveSigner(bytes2 country, address signer, uint256 blockNumber) internal view returns (bool) {
        SignerInfo storage s = _signers[country][signer];
        uint256 from = s.activeFrom;
        uint256 revokedAt = s.revokedAt;
        return from != 0 && from <= blockNumber && (revokedAt == 0 || blockNumber < revokedAt);
    }

    /// @dev Two ASCII uppercase letters A-Z.
    function _isValidCountry(bytes2 country) internal pure returns (bool) {
        uint8 a = uint8(country[0]);
        uint8 b = uint8(country[1]);
        return a >= 0x41 && a <= 0x5a && b >= 0x41 && b <= 0x5a;
    }

    function _activeCallerCountry() private view returns (bytes2 country) {
        country = _countryOfAdmin[msg.sender];
        if (country == bytes2(0)) revert CrossBlockNotAdmin(bytes2(0), msg.sender);
        if (_members[country].status != MemberStatus.Active) revert CrossBlockNotActiveMember(country);
    }

    function _onlyCountryAdmin(bytes2 country) private view returns (Member storage m) {
        m = _members[country];
        if (m.status == MemberStatus.None) revert CrossBlockUnknownMember(country);
        if (m.admin != msg.sender) revert CrossBlockNotAdmin(country, msg.sender);
    }

    function _checkProposal(uint256 id, ProposalKind kind, bytes2 target, address admin) private view {
        MemberStatus status = _members[target].status;
        bool ok;
        if (kind == ProposalKind.Admit) {
            ok = status == MemberStatus.None && admin != address(0) && _countryOfAdmin[admin] == bytes2(0);
        } else if (kind == ProposalKind.Suspend) {
            ok = status == MemberStatus.Active && admin == address(0) && _activeCount > 1;
        } else {
            ok = status == MemberStatus.Suspended && admin == address(0);
        }
        if (!ok) revert CrossBlockProposalInvalid(id, kind, target, status);
    }

    function _execute(uint256 id) private {
        Proposal storage p = _proposals[id];
        ProposalKind kind = p.kind;
        bytes2 target = p.target;
        _checkProposal(id, kind, target, p.admin);
        p.executed = true;
        if (kind == ProposalKind.Admit) {
            _admit(target, p.admin);
        } else if (kind == ProposalKind.Suspend) {
            _members[target].status = MemberStatus.Suspended;
            --_activeCount;
            emit MemberSuspended(target);
        } else {
            _members[target].status = MemberStatus.Active;
            ++_activeCount;
            emit MemberReinstated(target);
        }
        emit ProposalExecuted(id);
    }

    function _admit(bytes2 country, address admin) private {
        Member storage m = _members[country];
        m.status = MemberStatus.Active;
        m.admin = admin;
        _countryOfAdmin[admin] = country;
        _memberList.push(country);
        ++_activeCount;
        emit MemberAdmitted(country, admin);
    }
}
