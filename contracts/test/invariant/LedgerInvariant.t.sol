// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test, console} from "../utils/Test.sol";
import {LedgerHandler} from "./LedgerHandler.sol";
import {CrossBlockLedger} from "../../src/CrossBlockLedger.sol";
import {ICrossBlockConsortium as IC} from "../../src/interfaces/ICrossBlockConsortium.sol";

contract LedgerInvariantTest is Test {
    CrossBlockLedger internal ledger;
    LedgerHandler internal handler;
    bytes2[3] internal countries = [bytes2("IN"), bytes2("FR"), bytes2("DE")];

    function setUp() public {
        vm.roll(10);
        bytes2[] memory c = new bytes2[](3);
        address[] memory a = new address[](3);
        address[3] memory admins;
        for (uint256 i; i < 3; ++i) {
            c[i] = countries[i];
            a[i] = address(uint160(0xA000 + i));
            admins[i] = a[i];
        }
        ledger = new CrossBlockLedger(c, a);
        handler = new LedgerHandler(ledger, countries, admins);

        bytes4[] memory selectors = new bytes4[](7);
        selectors[0] = LedgerHandler.publishValid.selector;
        selectors[1] = LedgerHandler.publishInvalid.selector;
        selectors[2] = LedgerHandler.addSigner.selector;
        selectors[3] = LedgerHandler.revokeSigner.selector;
        selectors[4] = LedgerHandler.suspend.selector;
        selectors[5] = LedgerHandler.reinstate.selector;
        selectors[6] = LedgerHandler.roll.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @dev Called by Foundry after each run: shows (with -vv) that runs accept, reject and suspend.
    function afterInvariant() external view {
        console.log("accepted", handler.accepted());
        console.log("rejected", handler.rejected());
        console.log("suspensions", handler.suspensions());
        console.log("reinstatements", handler.reinstatements());
    }

    /// @notice Per country, the seq grows by exactly one per accepted batch (and by nothing else).
    function invariant_seqCountsAcceptedBatches() public view {
        for (uint256 i; i < 3; ++i) {
            (, uint64 seq) = ledger.headOf(countries[i]);
            assertEq(seq, handler.ghostSeq(countries[i]), "seq == accepted batches");
        }
    }

    /// @notice The head is the struct hash chained over all accepted batches; their commitments are stored.
    function invariant_headIsChainedStructHash() public view {
        for (uint256 i; i < 3; ++i) {
            bytes2 c = countries[i];
            (bytes32 head, uint64 seq) = ledger.headOf(c);
            assertEq(head, handler.ghostHead(c), "head == ghost chain");
            if (seq > 0) {
                assertEq(ledger.batchRoot(c, seq), handler.ghostLastRoot(c), "last root");
                assertEq(ledger.batchRecordsHash(c, seq), handler.ghostLastRecordsHash(c), "last records hash");
            }
            assertEq(ledger.batchRecordsHash(c, seq + 1), bytes32(0), "nothing beyond the head");
        }
    }

    /// @notice Nothing is accepted without an active signer of that country; nothing invalid is accepted;
    ///         every valid batch is accepted; the signer model agrees with the contract.
    function invariant_onlyActiveSignersPublish() public view {
        assertEq(handler.acceptedWithoutActiveSigner(), 0, "accepted without an active signer");
        assertEq(handler.acceptedInvalidBatch(), 0, "accepted an invalid batch");
        assertEq(handler.rejectedValidBatch(), 0, "rejected a valid batch");
        assertEq(handler.signerModelMismatch(), 0, "signer model");
        for (uint256 i; i < 3; ++i) {
            for (uint256 k; k < handler.KEYS(); ++k) {
                address s = vm.addr(handler.signerPk(i, k));
                assertEq(
                    ledger.isActiveSigner(countries[i], s, block.number),
                    handler.modelSignerActive(countries[i], k, block.number),
                    "isActiveSigner == model"
                );
            }
        }
    }

    /// @notice A suspended member's log does not move while it is suspended; statuses match the model.
    function invariant_suspendedLogFrozen() public view {
        uint256 active;
        for (uint256 i; i < 3; ++i) {
            bytes2 c = countries[i];
            bool suspended = handler.ghostSuspended(c);
            assertEq(ledger.memberStatus(c) == IC.MemberStatus.Suspended, suspended, "status == model");
            if (suspended) {
                (, uint64 seq) = ledger.headOf(c);
                assertEq(seq, handler.seqAtSuspension(c), "seq frozen while suspended");
            } else {
                ++active;
            }
        }
        assertEq(ledger.activeMemberCount(), active, "active member count");
        assertTrue(active >= 1, "at least one active member");
    }
}
