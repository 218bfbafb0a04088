//go:build !linux

package benchcompare

import "syscall"

// childAttr: outside Linux, children are stopped by stop() and the
// interrupt handler only.
func childAttr() *syscall.SysProcAttr { return nil }
