// Package examples holds the example contracts (the .star files beside this
// one) and embeds them for tests, benchmarks and the determinism driver.
//
// Imports: the standard library only.
package examples

import _ "embed"

// Counter is counter.star: anyone may increment a counter.
//
//go:embed counter.star
var Counter []byte

// PayPerReading is pay_per_reading.star: a data user pays a device owner
// for each reading the ledger holds.
//
//go:embed pay_per_reading.star
var PayPerReading []byte

// Workload is workload.star: ints, strings, dicts, sorting and storage, for
// the gas goldens and the calibration benchmark.
//
//go:embed workload.star
var Workload []byte
