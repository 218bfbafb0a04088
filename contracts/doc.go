// Package contracts is sixdomain's contract engine: deterministic, metered
// Starlark (go.starlark.net, pinned in go.mod).
//
// It owns the language a contract is written in, the deploy-time checks
// (Check), the execution of one call (Init, Call) under a gas limit, the
// gas table (gas.go) and the conversion of arguments, results, storage
// values and event data between Starlark values and canonical CBOR. It does
// not own state: everything a contract sees of the chain goes through the
// Host interface, which the ledger implements over its state tree and which
// must discard every change it received when a call fails (Result.Err).
// Transactions, receipts, fees and assets belong to the ledger.
//
// # Determinism and metering
//
// Check parses a contract with while, recursion, top-level control flow,
// set and global reassignment off, rejects float literals, /, /=, load,
// float, print, getattr, hasattr, dir, *args/**kwargs in calls and
// assignments to fields, and requires a top-level EXPORTS list naming the
// methods callers may invoke. It then rewrites the syntax tree: every
// operator, index, slice, attribute, method call, dict literal and dict
// comprehension becomes a call of a predeclared built-in whose name a
// contract cannot spell ($op, $index, ...). These built-ins, and
// replacements for the Starlark built-ins whose work depends on their
// arguments (list, sorted, str, ...), compute the size of the work before
// doing it and charge for it, so that no single interpreter step can
// allocate or compute more than it paid for. The interpreter's step
// counter, set from the remaining gas on a fresh thread for every call,
// meters the rest. Values are bounded (MaxIntBits, MaxStringLen, MaxElems,
// MaxDepth); int arguments of built-ins must fit in int32, because the
// library converts them to Go int, whose width differs between machines.
//
// Imports: the standard library, go.starlark.net and fxamacker/cbor. No
// other sixdomain package; contractstest (an in-memory Host for tests) and
// examples import this one.
package contracts
