// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerFixture} from "../utils/LedgerFixture.sol";
import {console} from "../utils/Test.sol";
import {ICrossBlockLedger as IL} from "../../src/interfaces/ICrossBlockLedger.sol";

/// @notice Execution gas of publishBatch for 1, 100 and 1,000 records whose bytes are all non-zero
///         (the worst case for calldata). Run with `-vv` to see the figures.
/// @dev Execution gas = gas used by the ledger's call frame (`vm.lastCallGas`; the caller's gasleft()
///      delta is logged too, it also counts ABI-encoding the call in the test), measured on the second batch
///      of the log (a steady-state publish: the head slot already non-zero). The estimated transaction
///      gas adds the intrinsic 21,000 and the calldata cost under EIP-7623 (Prague):
///      tx = 21000 + max(4 * tokens + execution, 10 * tokens), tokens = zeroBytes + 4 * nonZeroBytes.
///      The Python benchmark measures the real figure on anvil.
contract PublishGasTest is LedgerFixture {
    function _measure(uint256 count) internal returns (uint256 execGas, uint256 txGas) {
        // first batch: makes the head slot non-zero, like any batch but a country's first
        publish(SIGNER_IN_PK, IN, makeRecords(count + 7, count));

        bytes memory records = makeRecords(count, count);
        IL.Batch memory b = nextBatch(IN, records);
        bytes memory sig = signBatch(SIGNER_IN_PK, b);
        bytes memory data = abi.encodeCall(IL.publishBatch, (b, records, sig));

        uint256 before = gasleft();
        ledger.publishBatch(b, records, sig);
        uint256 callerView = before - gasleft();
        execGas = vm.lastCallGas().gasTotalUsed;

        uint256 tokens;
        for (uint256 i; i < data.length; ++i) {
            tokens += data[i] == 0 ? 1 : 4;
        }
        uint256 standard = 4 * tokens + execGas;
        uint256 floor = 10 * tokens;
        txGas = 21_000 + (standard > floor ? standard : floor);

        console.log("records", count);
        console.log("  execution gas (callee frame)", execGas);
        console.log("  gasleft() delta in the caller (adds ABI-encoding the call)", callerView);
        console.log("  execution gas per record", execGas / count);
        console.log("  estimated tx gas (EIP-7623)", txGas);
        console.log("  estimated tx gas per record", txGas / count);
    }

    function test_publishBatch_gas1() public {
        (uint256 execGas,) = _measure(1);
        assertLe(execGas, 90_000, "1 record");
    }

    function test_publishBatch_gas100() public {
        (uint256 execGas,) = _measure(100);
        assertLe(execGas / 100, 1_000, "100 records: execution per record");
    }

    function test_publishBatch_gas1000() public {
        (uint256 execGas, uint256 txGas) = _measure(1000);
        // execution stays well under the calldata floor, so the transaction pays the floor
        assertLe(execGas / 1000, 300, "1000 records: execution per record");
        assertLe(txGas / 1000, 700, "1000 records: estimated tx gas per record");
    }
}
