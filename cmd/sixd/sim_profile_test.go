//go:build !device

package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteHeapProfileReportsErrors: a heap profile that cannot be written
// (or whose write fails, as on a full disk) is an error for the caller,
// not a silently missing or truncated file.
func TestWriteHeapProfileReportsErrors(t *testing.T) {
	if err := writeHeapProfile(filepath.Join(t.TempDir(), "missing", "heap.pprof")); err == nil {
		t.Error("no error for a profile in a missing directory")
	}
	if _, err := os.Stat("/dev/full"); err == nil {
		if err := writeHeapProfile("/dev/full"); err == nil {
			t.Error("no error for a profile written to a full device")
		}
	}
	path := filepath.Join(t.TempDir(), "heap.pprof")
	if err := writeHeapProfile(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("profile: %v, %v", fi, err)
	}
}
