// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "../utils/LedgerFixture.sol";
import {console} from "../utils/Test.sol";
import {MerkleHelper} from "../utils/MerkleHelper.sol";
import {MerkleLib} from "../../src/libraries/MerkleLib.sol";
import {RecordLib} from "../../src/libraries/RecordLib.sol";
import {ICrossBlockLedger as IL} from "../../src/interfaces/ICrossBlockLedger.sol";

/// @notice What recomputing the Merkle root on chain would cost (the alternative rejected in
///         docs/decisions/0001-optimistic-merkle-root.md), next to what publishBatch does per record.
contract MerkleRootProbe {
    event Records(bytes records);

    /// @dev What publishBatch does per record besides the event: hash + well-formedness check.
    function checkOnly(bytes calldata records) external pure returns (bytes32, uint256) {
        return (keccak256(records), RecordLib.firstMalformed(records));
    }

    /// @dev The assembly root (MerkleLib, used by disputeBatch).
    function rootAssembly(bytes calldata records) external pure returns (bytes32) {
        return MerkleLib.root(records);
    }

    /// @dev A straightforward Solidity root: slices, abi.encodePacked, a new array per level.
    function rootNaive(bytes calldata records) external pure returns (bytes32) {
        uint256 n = records.length / 16;
        bytes32[] memory level = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            level[i] = keccak256(abi.encodePacked(uint32(i), bytes16(records[i * 16:i * 16 + 16])));
        }
        while (level.length > 1) {
            bytes32[] memory up = new bytes32[]((level.length + 1) / 2);
            for (uint256 j = 0; j < level.length / 2; j++) {
                bytes32 a = level[2 * j];
                bytes32 b = level[2 * j + 1];
                up[j] = a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
            }
            if (level.length % 2 == 1) up[up.length - 1] = level[level.length - 1];
            level = up;
        }
        return level[0];
    }
}

contract MerkleRootGasTest is LedgerFixture {
    /// @dev EIP-7623 transaction gas: 21000 + max(4 * tokens + execution, 10 * tokens).
    function _txGas(uint256 tokens, uint256 execGas) internal pure returns (uint256) {
        uint256 standard = 4 * tokens + execGas;
        uint256 floor = 10 * tokens;
        return 21_000 + (standard > floor ? standard : floor);
    }

    function test_merkleRoot_gasOfAlternatives() public {
        MerkleRootProbe probe = new MerkleRootProbe();
        bytes memory records = makeRecords(42, 1000);
        bytes32 expected = MerkleHelper.rootOfRecords(records);

        probe.checkOnly(records);
        uint256 checkGas = vm.lastCallGas().gasTotalUsed;
        assertEq(probe.rootAssembly(records), expected, "assembly root");
        uint256 asmGas = vm.lastCallGas().gasTotalUsed;
        assertEq(probe.rootNaive(records), expected, "naive root");
        uint256 naiveGas = vm.lastCallGas().gasTotalUsed;

        // the real publish of the same records (optimistic: root signed, not recomputed)
        IL.Batch memory b = nextBatch(IN, records);
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        bytes memory data = abi.encodeCall(IL.publishBatch, (b, records, sig));
        ledger.publishBatch(b, records, sig);
        uint256 publishGas = vm.lastCallGas().gasTotalUsed;
        uint256 tokens;
        for (uint256 i; i < data.length; ++i) {
            tokens += data[i] == 0 ? 1 : 4;
        }

        console.log("1000 records: hash + check, gas per record", checkGas / 1000);
        console.log("1000 records: assembly root, gas per record", asmGas / 1000);
        console.log("1000 records: naive root, gas per record", naiveGas / 1000);
        console.log("est. tx gas per record, optimistic (this contract)", _txGas(tokens, publishGas) / 1000);
        console.log("est. tx gas per record, + assembly root on chain", _txGas(tokens, publishGas + asmGas) / 1000);
        console.log("est. tx gas per record, + naive root on chain", _txGas(tokens, publishGas + naiveGas) / 1000);
        assertLe(checkGas, asmGas, "checking is cheaper than recomputing");
    }
}
