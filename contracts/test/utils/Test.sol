// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @notice Minimal console (Hardhat/Foundry console ABI, `log(string,uint256)` and `log(string)`).
library console {
    address private constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    function log(string memory s) internal view {
        _send(abi.encodeWithSignature("log(string)", s));
    }

    function log(string memory s, uint256 v) internal view {
        _send(abi.encodeWithSignature("log(string,uint256)", s, v));
    }

    function _send(bytes memory payload) private view {
        (bool ok,) = CONSOLE.staticcall(payload);
        ok; // the console has no code: the call only matters to the Foundry tracer
    }
}

/// @notice Tiny test base: cheatcodes, assertions that revert with a message, invariant targeting.
abstract contract Test {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    /// @dev Read by Foundry's invariant runner.
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetContracts;
    FuzzSelector[] private _targetSelectors;

    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetSelectors;
    }

    function targetContract(address target) internal {
        _targetContracts.push(target);
    }

    function targetSelector(FuzzSelector memory selector) internal {
        _targetSelectors.push(selector);
    }

    // ------------------------------------------------------------- assertions

    function fail(string memory err) internal pure {
        revert(string.concat("assertion failed: ", err));
    }

    function assertTrue(bool condition, string memory err) internal pure {
        if (!condition) fail(err);
    }

    function assertFalse(bool condition, string memory err) internal pure {
        if (condition) fail(err);
    }

    function assertEq(uint256 left, uint256 right, string memory err) internal pure {
        if (left != right) {
            fail(string.concat(err, ": ", vm.toString(left), " != ", vm.toString(right)));
        }
    }

    function assertEq(bytes32 left, bytes32 right, string memory err) internal pure {
        if (left != right) {
            fail(string.concat(err, ": ", vm.toString(left), " != ", vm.toString(right)));
        }
    }

    function assertEq(address left, address right, string memory err) internal pure {
        if (left != right) {
            fail(string.concat(err, ": ", vm.toString(left), " != ", vm.toString(right)));
        }
    }

    function assertEq(bool left, bool right, string memory err) internal pure {
        if (left != right) fail(string.concat(err, left ? ": true != false" : ": false != true"));
    }

    function assertEq(bytes memory left, bytes memory right, string memory err) internal pure {
        if (keccak256(left) != keccak256(right)) {
            fail(string.concat(err, ": ", vm.toString(left), " != ", vm.toString(right)));
        }
    }

    // bytes2 / bytes16 values convert implicitly to bytes32: use the bytes32 overload.

    function assertLe(uint256 left, uint256 right, string memory err) internal pure {
        if (left > right) fail(string.concat(err, ": ", vm.toString(left), " > ", vm.toString(right)));
    }

    /// @dev Uniform-ish value in [min, max] from a fuzz input (no rejections).
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (max == type(uint256).max && min == 0) return x;
        return min + (x % (max - min + 1));
    }
}
