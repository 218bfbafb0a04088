//go:build linux

package benchcompare

import "syscall"

// childAttr makes the kernel kill a child (a CometBFT validator, sixd
// devnet) when this process dies, even by SIGKILL: no orphan keeps
// loopback ports or a core busy.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
