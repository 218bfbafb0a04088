package contracts

// The gas table. docs/CONTRACTS.md publishes it together with the benchmark
// that calibrated it (BenchmarkCalibrate): one gas is meant to be about one
// nanosecond of CPU on the reference machine, so that a block's gas limit
// bounds the time a node spends in contracts. Changing any value changes
// every receipt's gas and therefore needs a chain upgrade; the golden test
// (testdata/golden.json) fails when one changes by accident.
const (
	GasIntrinsic     = 20_000 // every Init or Call: a fresh thread, the top level, the argument and result codecs
	GasPerInputByte  = 10     // per byte of the canonical CBOR arguments
	GasPerStep       = 5      // per Starlark interpreter step (k)
	GasBuiltin       = 250    // every metered operator or built-in (the rewritten $op, $index, ..., list, str, ...)
	GasPerUnit       = 16     // per unit of data a built-in touches or allocates: one element, one int word or 24 bytes
	GasStorageRead   = 1_500  // storage_get / storage_has, plus GasStorageByte per key and value byte
	GasStorageWrite  = 3_000  // storage_set / storage_del, plus GasStorageByte per key and value byte
	GasStorageByte   = 20     // per byte of storage key and value read or written
	GasStorageNewKey = 20_000 // surcharge for a key that did not exist: it grows the state for good
	GasHostCall      = 1_000  // balance, lookup_did, record_exists, caller, block_*
	GasTransfer      = 5_000  // transfer
	GasEmit          = 1_000  // emit, plus GasEmitByte per byte of topic and data
	GasEmitByte      = 20
	GasPerReturnByte = 10 // per byte of the canonical CBOR return value
)

// Limits that end a call with ErrLimit (or ErrStorageArg) rather than let a
// value grow without bound. They hold on every machine alike.
const (
	MaxIntBits      = 4096    // width of any int a contract makes
	MaxStringLen    = 1 << 20 // bytes of any string or bytes value
	MaxElems        = 1 << 20 // elements of any list, tuple or dict
	MaxDepth        = 64      // nesting of values walked by str, ==, hashing, ...
	MaxCBORDepth    = 16      // nesting of arguments, results, storage values and events
	MaxStorageKey   = 256     // bytes of a storage key
	MaxStorageValue = 16 << 10
	MaxEvents       = 64 // per call
	MaxTopicLen     = 64
	MaxEventData    = 4 << 10
	MaxReturnSize   = 16 << 10
)
