// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ICrossBlockConsortium
/// @notice Membership (countries, ISO 3166-1 alpha-2 as `bytes2`, e.g. "IN" = 0x494e), governance by
///         majority vote of active members, and per-country signing keys.
interface ICrossBlockConsortium {
    /// @notice Lifecycle of a member country.
    enum MemberStatus {
        None,
        Active,
        Suspended
    }

    /// @notice What a proposal does once a majority of active members voted for it.
    enum ProposalKind {
        Admit, // add `target` as an Active member administered by `admin`
        Suspend, // Active -> Suspended: cannot publish; its history stays
        Reinstate // Suspended -> Active
    }

    /// @notice A governance proposal. `votes` counts distinct member countries in favour.
    struct Proposal {
        ProposalKind kind;
        bytes2 target;
        address admin;
        uint32 votes;
        bool executed;
        uint64 createdAt;
    }

    // ----------------------------------------------------------------- events
    /// @notice A country became a member (founding or admitted).
    event MemberAdmitted(bytes2 indexed country, address indexed admin);
    /// @notice A member was suspended by vote.
    event MemberSuspended(bytes2 indexed country);
    /// @notice A suspended member was reinstated by vote.
    event MemberReinstated(bytes2 indexed country);
    /// @notice A country's admin key was rotated by its current admin.
    event AdminChanged(bytes2 indexed country, address indexed previousAdmin, address indexed newAdmin);
    /// @notice A proposal was created (the proposer's vote is counted).
    event ProposalCreated(uint256 indexed id, ProposalKind kind, bytes2 indexed target, address admin, bytes2 proposer);
    /// @notice A member country voted for a proposal.
    event ProposalVoted(uint256 indexed id, bytes2 indexed voter, uint32 votes);
    /// @notice A proposal reached a majority and was carried out.
    event ProposalExecuted(uint256 indexed id);
    /// @notice A signing key was added for a country, active from `fromBlock` (inclusive).
    event SignerAdded(bytes2 indexed country, address indexed signer, uint64 fromBlock);
    /// @notice A signing key was revoked, inactive from `atBlock` (inclusive).
    event SignerRevoked(bytes2 indexed country, address indexed signer, uint64 atBlock);

    // ----------------------------------------------------------------- errors
    error CrossBlockNotAdmin(bytes2 country, address caller);
    error CrossBlockNotActiveMember(bytes2 country);
    error CrossBlockAlreadyMember(bytes2 country);
    error CrossBlockUnknownMember(bytes2 country);
    error CrossBlockInvalidCountry(bytes2 country);
    error CrossBlockZeroAddress();
    error CrossBlockAdminInUse(address admin);
    error CrossBlockFoundingMismatch(uint256 countries, uint256 admins);
    error CrossBlockUnknownProposal(uint256 id);
    error CrossBlockProposalExecuted(uint256 id);
    error CrossBlockAlreadyVoted(uint256 id, bytes2 voter);
    error CrossBlockProposalInvalid(uint256 id, ProposalKind kind, bytes2 target, MemberStatus status);
    error CrossBlockSignerAlreadyAdded(bytes2 country, address signer);
    error CrossBlockSignerUnknown(bytes2 country, address signer);
    error CrossBlockSignerAlreadyRevoked(bytes2 country, address signer);

    // ------------------------------------------------------------- governance
    /// @notice Propose admitting, suspending or reinstating a country. Caller: admin of an active member.
    /// @param kind What to do. @param target The country concerned. @param admin New admin (Admit only, else 0).
    /// @return id The proposal id (ids start at 1).
    function propose(ProposalKind kind, bytes2 target, address admin) external returns (uint256 id);

    /// @notice Vote for a proposal; carried out once votes * 2 > active member count.
    /// @param id The proposal id. Caller: admin of an active member that has not voted yet.
    function vote(uint256 id) external;

    /// @notice Rotate a country's admin key. Caller: that country's current admin.
    /// @param country The country. @param newAdmin Its new admin address (not already an admin).
    function setAdmin(bytes2 country, address newAdmin) external;

    /// @notice Add a signing key for a country, active from the current block. Caller: the country's admin.
    /// @param country The country. @param signer The EIP-712 signing address.
    function addSigner(bytes2 country, address signer) external;

    /// @notice Revoke a signing key, inactive from the current block on. Caller: the country's admin.
    /// @param country The country. @param signer The signing address. Revoked keys cannot be re-added.
    function revokeSigner(bytes2 country, address signer) external;

    // ------------------------------------------------------------------ views
    /// @notice Status of a country. @param country The country. @return The status.
    function memberStatus(bytes2 country) external view returns (MemberStatus);

    /// @notice Admin key of a country. @param country The country. @return The admin address (0 if none).
    function memberAdmin(bytes2 country) external view returns (address);

    /// @notice Country administered by an address. @param admin The address. @return The country (0 if none).
    function countryOfAdmin(address admin) external view returns (bytes2);

    /// @notice All countries ever admitted, in admission order. @return The list.
    function members() external view returns (bytes2[] memory);

    /// @notice Number of Active members. @return The count.
    function activeMemberCount() external view returns (uint256);

    /// @notice A proposal. @param id The id. @return The proposal.
    function proposal(uint256 id) external view returns (Proposal memory);

    /// @notice Whether a country voted for a proposal. @param id The id. @param country The voter. @return Voted.
    function hasVoted(uint256 id, bytes2 country) external view returns (bool);

    /// @notice Blocks between which a signer is active: [activeFrom, revokedAt), revokedAt 0 = not revoked.
    /// @param country The country. @param signer The signer.
    /// @return activeFrom First active block (0: unknown).
    /// @return revokedAt First inactive block (0: still active).
    function signerInfo(bytes2 country, address signer) external view returns (uint64 activeFrom, uint64 revokedAt);

    /// @notice Whether `signer` is an active signing key of `country` at `blockNumber`.
    /// @param country The country. @param signer The signer. @param blockNumber The block. @return Active.
    function isActiveSigner(bytes2 country, address signer, uint256 blockNumber) external view returns (bool);
}
