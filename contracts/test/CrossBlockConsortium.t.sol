// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "./utils/LedgerFixture.sol";
import {CrossBlockLedger} from "../src/CrossBlockLedger.sol";
import {ICrossBlockConsortium as IC} from "../src/interfaces/ICrossBlockConsortium.sol";

contract CrossBlockConsortiumTest is LedgerFixture {
    IC.ProposalKind internal constant ADMIT = IC.ProposalKind.Admit;
    IC.ProposalKind internal constant SUSPEND = IC.ProposalKind.Suspend;
    IC.ProposalKind internal constant REINSTATE = IC.ProposalKind.Reinstate;

    // ============================================================ constructor

    function _deploy(bytes2[] memory c, address[] memory a) internal returns (CrossBlockLedger) {
        return new CrossBlockLedger(c, a);
    }

    function _pair(bytes2 c0, bytes2 c1, address a0, address a1)
        internal
        pure
        returns (bytes2[] memory c, address[] memory a)
    {
        c = new bytes2[](2);
        c[0] = c0;
        c[1] = c1;
        a = new address[](2);
        a[0] = a0;
        a[1] = a1;
    }

    function test_constructor_admitsFoundingMembers() public view {
        bytes2[] memory list = ledger.members();
        assertEq(list.length, 3, "members");
        assertEq(list[0], IN, "members[0]");
        assertEq(list[1], FR, "members[1]");
        assertEq(list[2], DE, "members[2]");
        assertEq(ledger.activeMemberCount(), 3, "active");
        assertTrue(ledger.memberStatus(IN) == IC.MemberStatus.Active, "IN active");
        assertTrue(ledger.memberStatus(BR) == IC.MemberStatus.None, "BR none");
        assertEq(ledger.memberAdmin(FR), adminFR, "admin FR");
        assertEq(ledger.memberAdmin(BR), address(0), "admin BR");
        assertEq(ledger.countryOfAdmin(adminDE), DE, "country of admin DE");
        assertEq(ledger.countryOfAdmin(outsider), bytes2(0), "country of outsider");
        assertEq(ledger.proposalCount(), 0, "proposals");
    }

    function test_constructor_emitsMemberAdmitted() public {
        (bytes2[] memory c, address[] memory a) = _pair(IN, FR, adminIN, adminFR);
        vm.expectEmit(true, true, true, true);
        emit IC.MemberAdmitted(IN, adminIN);
        vm.expectEmit(true, true, true, true);
        emit IC.MemberAdmitted(FR, adminFR);
        _deploy(c, a);
    }

    function test_RevertWhen_constructor_lengthMismatch() public {
        bytes2[] memory c = new bytes2[](2);
        c[0] = IN;
        c[1] = FR;
        address[] memory a = new address[](1);
        a[0] = adminIN;
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockFoundingMismatch.selector, 2, 1));
        _deploy(c, a);
    }

    function test_RevertWhen_constructor_noFoundingMember() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockFoundingMismatch.selector, 0, 0));
        _deploy(new bytes2[](0), new address[](0));
    }

    function test_RevertWhen_constructor_invalidCountry() public {
        bytes2[5] memory bad = [bytes2("in"), bytes2("I1"), bytes2(0), bytes2("@A"), bytes2("A[")];
        for (uint256 i; i < bad.length; ++i) {
            (bytes2[] memory c, address[] memory a) = _pair(IN, bad[i], adminIN, adminFR);
            vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockInvalidCountry.selector, bad[i]));
            _deploy(c, a);
        }
    }

    function test_RevertWhen_constructor_duplicateCountry() public {
        (bytes2[] memory c, address[] memory a) = _pair(IN, IN, adminIN, adminFR);
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockAlreadyMember.selector, IN));
        _deploy(c, a);
    }

    function test_RevertWhen_constructor_zeroAdmin() public {
        (bytes2[] memory c, address[] memory a) = _pair(IN, FR, adminIN, address(0));
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockZeroAddress.selector));
        _deploy(c, a);
    }

    function test_RevertWhen_constructor_adminOfTwoCountries() public {
        (bytes2[] memory c, address[] memory a) = _pair(IN, FR, adminIN, adminIN);
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockAdminInUse.selector, adminIN));
        _deploy(c, a);
    }

    function testFuzz_constructor_countryValidity(bytes2 country) public {
        uint8 a = uint8(country[0]);
        uint8 b = uint8(country[1]);
        bool valid = a >= 65 && a <= 90 && b >= 65 && b <= 90;
        bytes2[] memory c = new bytes2[](1);
        c[0] = country;
        address[] memory ad = new address[](1);
        ad[0] = adminIN;
        if (!valid) vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockInvalidCountry.selector, country));
        CrossBlockLedger l = _deploy(c, ad);
        if (valid) assertTrue(l.memberStatus(country) == IC.MemberStatus.Active, "admitted");
    }

    // ================================================================ propose

    function test_propose_createsProposalWithProposerVote() public {
        vm.roll(1234);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.ProposalCreated(1, ADMIT, BR, adminBR, IN);
        vm.prank(adminIN);
        uint256 id = ledger.propose(ADMIT, BR, adminBR);
        assertEq(id, 1, "id");
        IC.Proposal memory p = ledger.proposal(id);
        assertTrue(p.kind == ADMIT, "kind");
        assertEq(p.target, BR, "target");
        assertEq(p.admin, adminBR, "admin");
        assertEq(p.votes, 1, "votes");
        assertFalse(p.executed, "executed");
        assertEq(p.createdAt, 1234, "createdAt");
        assertTrue(ledger.hasVoted(id, IN), "IN voted");
        assertFalse(ledger.hasVoted(id, FR), "FR not voted");
        assertTrue(ledger.memberStatus(BR) == IC.MemberStatus.None, "not yet admitted");
        assertEq(ledger.proposalCount(), 1, "count");
    }

    function test_propose_executesImmediatelyForSingleMember() public {
        bytes2[] memory c = new bytes2[](1);
        c[0] = IN;
        address[] memory a = new address[](1);
        a[0] = adminIN;
        CrossBlockLedger l = _deploy(c, a);
        vm.expectEmit(true, true, true, true, address(l));
        emit IC.ProposalCreated(1, ADMIT, BR, adminBR, IN);
        vm.expectEmit(true, true, true, true, address(l));
        emit IC.MemberAdmitted(BR, adminBR);
        vm.expectEmit(true, true, true, true, address(l));
        emit IC.ProposalExecuted(1);
        vm.prank(adminIN);
        l.propose(ADMIT, BR, adminBR);
        assertTrue(l.proposal(1).executed, "executed");
        assertTrue(l.memberStatus(BR) == IC.MemberStatus.Active, "BR active");
        assertEq(l.activeMemberCount(), 2, "active");
    }

    function test_RevertWhen_propose_callerNotAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockNotAdmin.selector, bytes2(0), outsider));
        vm.prank(outsider);
        ledger.propose(ADMIT, BR, adminBR);
    }

    function test_RevertWhen_propose_callerSuspended() public {
        suspend(FR);
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockNotActiveMember.selector, FR));
        vm.prank(adminFR);
        ledger.propose(REINSTATE, FR, address(0));
    }

    function test_RevertWhen_propose_invalidTarget() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockInvalidCountry.selector, bytes2("br")));
        vm.prank(adminIN);
        ledger.propose(ADMIT, "br", adminBR);
    }

    function test_RevertWhen_propose_admitExistingMember() public {
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, 0, ADMIT, FR, IC.MemberStatus.Active)
        );
        vm.prank(adminIN);
        ledger.propose(ADMIT, FR, adminBR);
    }

    function test_RevertWhen_propose_admitSuspendedMember() public {
        suspend(FR);
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, 0, ADMIT, FR, IC.MemberStatus.Suspended)
        );
        vm.prank(adminIN);
        ledger.propose(ADMIT, FR, adminBR);
    }

    function test_RevertWhen_propose_admitZeroAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, 0, ADMIT, BR, IC.MemberStatus.None)
        );
        vm.prank(adminIN);
        ledger.propose(ADMIT, BR, address(0));
    }

    function test_RevertWhen_propose_admitAdminInUse() public {
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, 0, ADMIT, BR, IC.MemberStatus.None)
        );
        vm.prank(adminIN);
        ledger.propose(ADMIT, BR, adminDE);
    }

    function test_RevertWhen_propose_suspendNonMember() public {
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, 0, SUSPEND, BR, IC.MemberStatus.None)
        );
        vm.prank(adminIN);
        ledger.propose(SUSPEND, BR, address(0));
    }

    function test_RevertWhen_propose_suspendSuspended() public {
        suspend(FR);
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, 0, SUSPEND, FR, IC.MemberStatus.Suspended)
        );
        vm.prank(adminIN);
        ledger.propose(SUSPEND, FR, address(0));
    }

    function test_RevertWhen_propose_suspendWithAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, 0, SUSPEND, FR, IC.MemberStatus.Active)
        );
        vm.prank(adminIN);
        ledger.propose(SUSPEND, FR, adminBR);
    }

    function test_RevertWhen_propose_suspendLastActiveMember() public {
        bytes2[] memory c = new bytes2[](1);
        c[0] = IN;
        address[] memory a = new address[](1);
        a[0] = adminIN;
        CrossBlockLedger l = _deploy(c, a);
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, 0, SUSPEND, IN, IC.MemberStatus.Active)
        );
        vm.prank(adminIN);
        l.propose(SUSPEND, IN, address(0));
    }

    function test_RevertWhen_propose_reinstateActive() public {
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, 0, REINSTATE, FR, IC.MemberStatus.Active)
        );
        vm.prank(adminIN);
        ledger.propose(REINSTATE, FR, address(0));
    }

    function test_RevertWhen_propose_reinstateNonMember() public {
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, 0, REINSTATE, BR, IC.MemberStatus.None)
        );
        vm.prank(adminIN);
        ledger.propose(REINSTATE, BR, address(0));
    }

    function test_RevertWhen_propose_reinstateWithAdmin() public {
        suspend(FR);
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, 0, REINSTATE, FR, IC.MemberStatus.Suspended)
        );
        vm.prank(adminIN);
        ledger.propose(REINSTATE, FR, adminBR);
    }

    function test_RevertWhen_propose_unknownKind() public {
        // ProposalKind has 3 members: the ABI decoder rejects 3 before any check
        bytes memory data = abi.encodeWithSelector(IC.propose.selector, uint8(3), BR, adminBR);
        vm.prank(adminIN);
        (bool ok,) = address(ledger).call(data);
        assertFalse(ok, "kind 3 accepted");
        assertEq(ledger.proposalCount(), 0, "no proposal");
    }

    // =================================================================== vote

    function _proposeAdmitBR() internal returns (uint256 id) {
        vm.prank(adminIN);
        id = ledger.propose(ADMIT, BR, adminBR);
    }

    function test_vote_admitsOnMajority() public {
        uint256 id = _proposeAdmitBR();
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.ProposalVoted(id, FR, 2);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.MemberAdmitted(BR, adminBR);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.ProposalExecuted(id);
        vm.prank(adminFR);
        ledger.vote(id);
        assertTrue(ledger.memberStatus(BR) == IC.MemberStatus.Active, "BR active");
        assertEq(ledger.memberAdmin(BR), adminBR, "admin");
        assertEq(ledger.countryOfAdmin(adminBR), BR, "country of admin");
        assertEq(ledger.activeMemberCount(), 4, "active");
        assertEq(ledger.members().length, 4, "members");
        assertEq(ledger.members()[3], BR, "members[3]");
        IC.Proposal memory p = ledger.proposal(id);
        assertTrue(p.executed, "executed");
        assertEq(p.votes, 2, "votes");
        assertTrue(ledger.hasVoted(id, FR), "FR voted");

        // the new member manages its own signers and publishes
        vm.prank(adminBR);
        ledger.addSigner(BR, signerBR);
        publish(SIGNER_BR_PK, BR, makeRecords(1, 3));
        (, uint64 seq) = ledger.headOf(BR);
        assertEq(seq, 1, "BR seq");
    }

    function test_vote_noExecutionWithoutMajority() public {
        // 4 members: 2 votes are not a majority (2 * 2 = 4, not > 4)
        uint256 id = _proposeAdmitBR();
        vm.prank(adminFR);
        ledger.vote(id);
        vm.prank(adminIN);
        uint256 id2 = ledger.propose(SUSPEND, DE, address(0));
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.ProposalVoted(id2, FR, 2);
        vm.prank(adminFR);
        ledger.vote(id2);
        assertFalse(ledger.proposal(id2).executed, "not executed");
        assertTrue(ledger.memberStatus(DE) == IC.MemberStatus.Active, "DE still active");
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.MemberSuspended(DE);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.ProposalExecuted(id2);
        vm.prank(adminBR);
        ledger.vote(id2);
        assertTrue(ledger.memberStatus(DE) == IC.MemberStatus.Suspended, "DE suspended");
        assertEq(ledger.activeMemberCount(), 3, "active");
    }

    function test_vote_suspendAndReinstate() public {
        vm.prank(adminIN);
        uint256 id = ledger.propose(SUSPEND, FR, address(0));
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.MemberSuspended(FR);
        vm.prank(adminDE);
        ledger.vote(id);
        assertTrue(ledger.memberStatus(FR) == IC.MemberStatus.Suspended, "suspended");
        assertEq(ledger.activeMemberCount(), 2, "active after suspend");
        assertEq(ledger.members().length, 3, "history stays");

        vm.prank(adminIN);
        uint256 id2 = ledger.propose(REINSTATE, FR, address(0));
        assertFalse(ledger.proposal(id2).executed, "1 of 2 is no majority");
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.MemberReinstated(FR);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.ProposalExecuted(id2);
        vm.prank(adminDE);
        ledger.vote(id2);
        assertTrue(ledger.memberStatus(FR) == IC.MemberStatus.Active, "reinstated");
        assertEq(ledger.activeMemberCount(), 3, "active after reinstate");
    }

    function test_vote_suspendedVoterStillCounted() public {
        // a vote cast before the voter's suspension is kept; the majority uses the active count at vote time
        vm.prank(adminIN);
        uint256 id = ledger.propose(ADMIT, BR, adminBR); // IN: 1 vote of 3
        suspend(IN); // FR proposes, DE votes: 2 of 3 → IN suspended, 2 active
        vm.prank(adminFR);
        ledger.vote(id); // 2 votes * 2 > 2
        assertTrue(ledger.memberStatus(BR) == IC.MemberStatus.Active, "BR admitted");
    }

    function test_RevertWhen_vote_callerNotAdmin() public {
        uint256 id = _proposeAdmitBR();
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockNotAdmin.selector, bytes2(0), outsider));
        vm.prank(outsider);
        ledger.vote(id);
    }

    function test_RevertWhen_vote_callerSuspended() public {
        suspend(DE);
        uint256 id = _proposeAdmitBR();
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockNotActiveMember.selector, DE));
        vm.prank(adminDE);
        ledger.vote(id);
    }

    function test_RevertWhen_vote_unknownProposal() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockUnknownProposal.selector, 0));
        vm.prank(adminFR);
        ledger.vote(0);
        _proposeAdmitBR();
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockUnknownProposal.selector, 2));
        vm.prank(adminFR);
        ledger.vote(2);
    }

    function test_RevertWhen_vote_proposalExecuted() public {
        uint256 id = _proposeAdmitBR();
        vm.prank(adminFR);
        ledger.vote(id);
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockProposalExecuted.selector, id));
        vm.prank(adminDE);
        ledger.vote(id);
    }

    function test_RevertWhen_vote_alreadyVoted() public {
        uint256 id = _proposeAdmitBR();
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockAlreadyVoted.selector, id, IN));
        vm.prank(adminIN);
        ledger.vote(id);
    }

    function test_RevertWhen_vote_alreadyVotedAfterAdminRotation() public {
        uint256 id = _proposeAdmitBR();
        address newAdmin = address(0xA111);
        vm.prank(adminIN);
        ledger.setAdmin(IN, newAdmin);
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockAlreadyVoted.selector, id, IN));
        vm.prank(newAdmin);
        ledger.vote(id);
    }

    function test_RevertWhen_vote_targetAlreadyAdmitted() public {
        uint256 id1 = _proposeAdmitBR();
        vm.prank(adminFR);
        uint256 id2 = ledger.propose(ADMIT, BR, address(0xB2));
        vm.prank(adminDE);
        ledger.vote(id1); // BR admitted: 4 active members
        vm.prank(adminDE);
        ledger.vote(id2); // 2 of 4: no majority yet, nothing checked
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, id2, ADMIT, BR, IC.MemberStatus.Active)
        );
        vm.prank(adminIN);
        ledger.vote(id2); // 3 of 4: re-validated at execution
    }

    function test_RevertWhen_vote_admitAdminNowInUse() public {
        uint256 id = _proposeAdmitBR();
        vm.prank(adminDE);
        ledger.setAdmin(DE, adminBR); // adminBR is now DE's admin
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, id, ADMIT, BR, IC.MemberStatus.None)
        );
        vm.prank(adminFR);
        ledger.vote(id);
    }

    function test_RevertWhen_vote_suspendTargetAlreadySuspended() public {
        vm.prank(adminIN);
        uint256 id1 = ledger.propose(SUSPEND, FR, address(0));
        vm.prank(adminDE);
        uint256 id2 = ledger.propose(SUSPEND, FR, address(0));
        vm.prank(adminDE);
        ledger.vote(id1); // FR suspended, 2 active
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, id2, SUSPEND, FR, IC.MemberStatus.Suspended)
        );
        vm.prank(adminIN);
        ledger.vote(id2);
    }

    function test_RevertWhen_vote_reinstateTargetAlreadyActive() public {
        suspend(FR); // IN, DE active
        vm.prank(adminIN);
        uint256 id1 = ledger.propose(REINSTATE, FR, address(0));
        vm.prank(adminDE);
        uint256 id2 = ledger.propose(REINSTATE, FR, address(0));
        vm.prank(adminDE);
        ledger.vote(id1); // FR reinstated
        vm.expectRevert(
            abi.encodeWithSelector(IC.CrossBlockProposalInvalid.selector, id2, REINSTATE, FR, IC.MemberStatus.Active)
        );
        vm.prank(adminIN);
        ledger.vote(id2);
    }

    function test_RevertWhen_proposal_unknown() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockUnknownProposal.selector, 1));
        ledger.proposal(1);
    }

    // =============================================================== setAdmin

    function test_setAdmin_rotatesAdmin() public {
        address newAdmin = address(0xA111);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.AdminChanged(IN, adminIN, newAdmin);
        vm.prank(adminIN);
        ledger.setAdmin(IN, newAdmin);
        assertEq(ledger.memberAdmin(IN), newAdmin, "admin");
        assertEq(ledger.countryOfAdmin(newAdmin), IN, "new admin country");
        assertEq(ledger.countryOfAdmin(adminIN), bytes2(0), "old admin country");

        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockNotAdmin.selector, IN, adminIN));
        vm.prank(adminIN);
        ledger.addSigner(IN, address(0x1234));
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockNotAdmin.selector, bytes2(0), adminIN));
        vm.prank(adminIN);
        ledger.propose(ADMIT, BR, adminBR);

        vm.prank(newAdmin);
        ledger.addSigner(IN, address(0x1234));
        vm.prank(newAdmin);
        ledger.propose(ADMIT, BR, adminBR);
    }

    function test_setAdmin_worksWhileSuspended() public {
        suspend(FR);
        vm.prank(adminFR);
        ledger.setAdmin(FR, address(0xF1));
        assertEq(ledger.memberAdmin(FR), address(0xF1), "admin");
    }

    function test_RevertWhen_setAdmin_unknownMember() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockUnknownMember.selector, BR));
        vm.prank(adminIN);
        ledger.setAdmin(BR, adminBR);
    }

    function test_RevertWhen_setAdmin_callerNotAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockNotAdmin.selector, IN, adminFR));
        vm.prank(adminFR);
        ledger.setAdmin(IN, adminBR);
    }

    function test_RevertWhen_setAdmin_zeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockZeroAddress.selector));
        vm.prank(adminIN);
        ledger.setAdmin(IN, address(0));
    }

    function test_RevertWhen_setAdmin_adminInUse() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockAdminInUse.selector, adminFR));
        vm.prank(adminIN);
        ledger.setAdmin(IN, adminFR);
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockAdminInUse.selector, adminIN));
        vm.prank(adminIN);
        ledger.setAdmin(IN, adminIN);
    }

    // ================================================================ signers

    function test_addSigner_activeFromCurrentBlock() public {
        vm.roll(500);
        address s = address(0x5555);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.SignerAdded(IN, s, 500);
        vm.prank(adminIN);
        ledger.addSigner(IN, s);
        (uint64 from, uint64 revokedAt) = ledger.signerInfo(IN, s);
        assertEq(from, 500, "activeFrom");
        assertEq(revokedAt, 0, "revokedAt");
        assertTrue(ledger.isActiveSigner(IN, s, 500), "active at 500");
        assertTrue(ledger.isActiveSigner(IN, s, 10 ** 9), "active later");
        assertFalse(ledger.isActiveSigner(IN, s, 499), "inactive before");
        assertFalse(ledger.isActiveSigner(FR, s, 500), "per country");
    }

    function test_addSigner_worksWhileSuspended() public {
        suspend(FR);
        vm.prank(adminFR);
        ledger.addSigner(FR, address(0x5555));
        assertTrue(ledger.isActiveSigner(FR, address(0x5555), block.number), "added");
    }

    function test_addSigner_sameKeyForTwoCountries() public {
        vm.prank(adminFR);
        ledger.addSigner(FR, signerIN);
        assertTrue(ledger.isActiveSigner(FR, signerIN, block.number), "FR");
        assertTrue(ledger.isActiveSigner(IN, signerIN, block.number), "IN");
    }

    function test_RevertWhen_addSigner_unknownMember() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockUnknownMember.selector, BR));
        vm.prank(adminIN);
        ledger.addSigner(BR, signerBR);
    }

    function test_RevertWhen_addSigner_callerNotAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockNotAdmin.selector, IN, adminFR));
        vm.prank(adminFR);
        ledger.addSigner(IN, signerFR);
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockNotAdmin.selector, IN, signerIN));
        vm.prank(signerIN);
        ledger.addSigner(IN, signerFR);
    }

    function test_RevertWhen_addSigner_zeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockZeroAddress.selector));
        vm.prank(adminIN);
        ledger.addSigner(IN, address(0));
    }

    function test_RevertWhen_addSigner_alreadyAdded() public {
        vm.roll(block.number + 10);
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockSignerAlreadyAdded.selector, IN, signerIN));
        vm.prank(adminIN);
        ledger.addSigner(IN, signerIN);
    }

    function test_RevertWhen_addSigner_revoked() public {
        vm.prank(adminIN);
        ledger.revokeSigner(IN, signerIN);
        vm.roll(block.number + 10);
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockSignerAlreadyRevoked.selector, IN, signerIN));
        vm.prank(adminIN);
        ledger.addSigner(IN, signerIN);
    }

    function test_revokeSigner_inactiveFromCurrentBlock() public {
        uint256 added = block.number;
        vm.roll(added + 7);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit IC.SignerRevoked(IN, signerIN, uint64(added + 7));
        vm.prank(adminIN);
        ledger.revokeSigner(IN, signerIN);
        (uint64 from, uint64 revokedAt) = ledger.signerInfo(IN, signerIN);
        assertEq(from, added, "activeFrom");
        assertEq(revokedAt, added + 7, "revokedAt");
        assertTrue(ledger.isActiveSigner(IN, signerIN, added), "active at first block");
        assertTrue(ledger.isActiveSigner(IN, signerIN, added + 6), "active before revocation");
        assertFalse(ledger.isActiveSigner(IN, signerIN, added + 7), "inactive at revocation block");
        assertFalse(ledger.isActiveSigner(IN, signerIN, added + 100), "inactive after");
        assertFalse(ledger.isActiveSigner(IN, signerIN, added - 1), "inactive before");
    }

    function test_revokeSigner_sameBlockNeverActive() public {
        address s = address(0x5555);
        vm.startPrank(adminIN);
        ledger.addSigner(IN, s);
        ledger.revokeSigner(IN, s);
        vm.stopPrank();
        assertFalse(ledger.isActiveSigner(IN, s, block.number), "never active");
    }

    function test_revokeSigner_worksWhileSuspended() public {
        suspend(FR);
        vm.prank(adminFR);
        ledger.revokeSigner(FR, signerFR);
        assertFalse(ledger.isActiveSigner(FR, signerFR, block.number), "revoked");
    }

    function test_RevertWhen_revokeSigner_unknownMember() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockUnknownMember.selector, BR));
        vm.prank(adminIN);
        ledger.revokeSigner(BR, signerBR);
    }

    function test_RevertWhen_revokeSigner_callerNotAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockNotAdmin.selector, IN, adminFR));
        vm.prank(adminFR);
        ledger.revokeSigner(IN, signerIN);
    }

    function test_RevertWhen_revokeSigner_unknownSigner() public {
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockSignerUnknown.selector, IN, signerFR));
        vm.prank(adminIN);
        ledger.revokeSigner(IN, signerFR);
    }

    function test_RevertWhen_revokeSigner_alreadyRevoked() public {
        vm.prank(adminIN);
        ledger.revokeSigner(IN, signerIN);
        vm.expectRevert(abi.encodeWithSelector(IC.CrossBlockSignerAlreadyRevoked.selector, IN, signerIN));
        vm.prank(adminIN);
        ledger.revokeSigner(IN, signerIN);
    }

    function testFuzz_isActiveSigner_window(uint64 addAt, uint64 gap, uint64 probe) public {
        addAt = uint64(bound(addAt, 1, type(uint32).max));
        gap = uint64(bound(gap, 0, type(uint32).max));
        address s = address(0x5555);
        vm.roll(addAt);
        vm.prank(adminIN);
        ledger.addSigner(IN, s);
        vm.roll(uint256(addAt) + gap);
        vm.prank(adminIN);
        ledger.revokeSigner(IN, s);
        bool expected = probe >= addAt && probe < uint256(addAt) + gap;
        assertEq(ledger.isActiveSigner(IN, s, probe), expected, "window");
    }
}
