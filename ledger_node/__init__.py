"""ledger_node: everything in CrossBlock that touches the chain.

Identifier parsing, the 16-byte record codec, Merkle trees and proofs, EIP-712 batch signing,
contract compilation, and the LedgerClient that deploys, governs, publishes and reads the logs.
"""

__version__ = "0.1.0"
