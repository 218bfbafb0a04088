// Command sixd-e2e runs an end-to-end fault manifest against real sixd
// processes or containers (package e2e, docs/RELIABILITY.md):
//
//	sixd-e2e run e2e/manifests/ci.toml --sixd bin/sixd-static --out e2e-out/ci [--mode auto|process|docker]
//	sixd-e2e plan e2e/manifests/long.toml      # the faults the manifest resolves to, without running it
//
// It exits 0 when every invariant held, 1 when one did not (the report
// lists them), and 2 when the run could not be carried out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/sixdomain/sixdomain/e2e"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage:
  sixd-e2e run MANIFEST --sixd BIN --out DIR [--mode auto|process|docker]
  sixd-e2e plan MANIFEST`)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || (args[0] != "run" && args[0] != "plan") {
		usage(stderr)
		return 2
	}
	verb, path := args[0], args[1]
	fs := flag.NewFlagSet("sixd-e2e "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("sixd", "bin/sixd", "the sixd binary (static, CGO_ENABLED=0, for container mode)")
	out := fs.String("out", "", "directory for the testnet, node logs and report.json (must not exist or be empty)")
	mode := fs.String("mode", "auto", `"process", "docker", or "auto" (docker where a daemon answers)`)
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	m, err := e2e.LoadManifest(path)
	if err != nil {
		fmt.Fprintf(stderr, "sixd-e2e: %v\n", err)
		return 2
	}
	if verb == "plan" {
		for _, f := range m.Plan() {
			fmt.Fprintln(stdout, f)
		}
		return 0
	}
	if *out == "" {
		fmt.Fprintln(stderr, "sixd-e2e: --out is required")
		return 2
	}
	if entries, err := os.ReadDir(*out); err == nil && len(entries) > 0 {
		fmt.Fprintf(stderr, "sixd-e2e: %s is not empty\n", *out)
		return 2
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "sixd-e2e: %v\n", err)
		return 2
	}
	if *mode == "auto" {
		*mode = "process"
		if exec.Command("docker", "info").Run() == nil {
			*mode = "docker"
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := e2e.Run(ctx, m, e2e.Options{Bin: *bin, Dir: *out, Mode: *mode, Out: stdout})
	if rep != nil {
		rep.Print(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sixd-e2e: %v\n", err)
		return 2
	}
	if !rep.Passed {
		return 1
	}
	return 0
}
