package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// disks puts each node's home on a tmpfs of its own, mounted on the host,
// so that a fault can fill it or make it read-only under the running node
// (a process, or a container that bind-mounts it): the same filesystem
// either way. It needs root.
type disks struct {
	homes map[string]string // node → home directory (a tmpfs mount point)
}

// diskSizeMB is each home's tmpfs size: room for a run's ledger, small
// enough to fill in a moment.
const diskSizeMB = 512

// fillName is the file a disk-full fault writes into a home.
const fillName = "e2e-disk-fill"

func newDisks(ctx context.Context, homes map[string]string) (*disks, error) {
	if os.Getuid() != 0 {
		return nil, errors.New("disk faults need root (each home becomes a tmpfs mount)")
	}
	d := &disks{homes: map[string]string{}}
	for name, home := range homes {
		// Move the home aside, mount the tmpfs, move it back.
		aside := home + ".e2e-aside"
		if err := os.Rename(home, aside); err != nil {
			return nil, errors.Join(err, d.close(ctx))
		}
		if err := os.Mkdir(home, 0o700); err != nil {
			return nil, errors.Join(err, d.close(ctx))
		}
		if err := mountCmd(ctx, "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm,mode=0700", diskSizeMB), "tmpfs", home); err != nil {
			return nil, errors.Join(err, d.close(ctx))
		}
		d.homes[name] = home
		if out, err := exec.CommandContext(ctx, "cp", "-a", aside+"/.", home+"/").CombinedOutput(); err != nil {
			return nil, errors.Join(fmt.Errorf("copying %s: %w: %s", aside, err, out), d.close(ctx))
		}
		st, err := os.Stat(aside)
		if err != nil {
			return nil, errors.Join(err, d.close(ctx))
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			if err := os.Chown(home, int(sys.Uid), int(sys.Gid)); err != nil {
				return nil, errors.Join(err, d.close(ctx))
			}
		}
		if err := os.RemoveAll(aside); err != nil {
			return nil, errors.Join(err, d.close(ctx))
		}
	}
	return d, nil
}

func mountCmd(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mount", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mount %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// fill writes into name's home until its filesystem is full.
func (d *disks) fill(name string) error {
	home, ok := d.homes[name]
	if !ok {
		return fmt.Errorf("no disk for %q", name)
	}
	f, err := os.OpenFile(filepath.Join(home, fillName), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			cerr := f.Close()
			if errors.Is(err, syscall.ENOSPC) {
				return cerr
			}
			return errors.Join(err, cerr)
		}
	}
}

// unfill removes what fill wrote.
func (d *disks) unfill(name string) error {
	return os.Remove(filepath.Join(d.homes[name], fillName))
}

// readOnly remounts name's home read-only (rw false) or read-write.
func (d *disks) readOnly(ctx context.Context, name string, ro bool) error {
	home, ok := d.homes[name]
	if !ok {
		return fmt.Errorf("no disk for %q", name)
	}
	mode := "rw"
	if ro {
		mode = "ro"
	}
	return mountCmd(ctx, "-o", "remount,"+mode, home)
}

// close unmounts every home; what was on them is lost with them.
func (d *disks) close(ctx context.Context) error {
	var errs []error
	for _, home := range d.homes {
		if err := exec.CommandContext(ctx, "umount", "-l", home).Run(); err != nil {
			errs = append(errs, fmt.Errorf("umount %s: %w", home, err))
		}
	}
	d.homes = map[string]string{}
	return errors.Join(errs...)
}
