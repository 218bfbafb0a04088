// Command sixd runs and talks to a sixdomain node: it initialises a node's
// home directory, runs the node, manages its key, and queries and submits
// to a running node's HTTP API.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}

// newRootCmd builds the command tree. Errors are printed once, on one line,
// as "sixd: <message>" to the command's error stream; usage is not printed
// on errors.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "sixd",
		Short: "sixdomain node and client",
		Long: `sixd runs a sixdomain node (a libp2p peer of the sixdomain ledger mesh) and
talks to a running node over its HTTP API.

The node's home directory (--home) holds config.toml, node.key and
genesis.toml. It defaults to $SIXD_HOME, then ~/.sixdomain.

A node key encrypted with 'sixd keys encrypt' is decrypted with the
passphrase in the file named by $SIXD_PASSPHRASE_FILE, else in
$SIXD_PASSPHRASE. No command takes a passphrase as a flag value.`,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: false,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetErrPrefix("sixd:")
	// cobra's 'sixd completion bash|zsh|fish|powershell' prints a shell
	// completion script (README: Shell completion); it is listed in the
	// help. Execute adds it, so it writes to the output set by then.
	root.CompletionOptions.HiddenDefaultCmd = false
	root.AddCommand(
		newInitCmd(),
		newRunCmd(),
		newIDCmd(),
		newStatusCmd(),
		newPeersCmd(),
		newDIDCmd(),
		newKeysCmd(),
		newTxCmd(),
		newBlockCmd(),
		newRecordsCmd(),
		newProofCmd(),
		newStateCmd(),
		newWatchCmd(),
		newVersionCmd(),
		newDevnetCmd(),
		newTestnetCmd(),
		newHealthcheckCmd(),
		newSimCmd(),
	)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return oneLineError{err} })
	guardRunE(root)
	return root
}

// guardRunE wraps the RunE of cmd and of every command below it so that
// errors print on one line and a panic becomes an error instead of a crash.
func guardRunE(cmd *cobra.Command) {
	if f := cmd.RunE; f != nil {
		cmd.RunE = func(c *cobra.Command, args []string) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("internal error: %v", r)
				}
				var noNode *noNodeError
				if errors.As(err, &noNode) {
					// Which step met no node adds nothing to how to fix it.
					err = noNode
				}
				if err != nil {
					err = oneLineError{err}
				}
			}()
			return f(c, args)
		}
	}
	for _, sub := range cmd.Commands() {
		guardRunE(sub)
	}
}

// oneLineError prints a (possibly joined, multi-line) error on one line.
type oneLineError struct{ err error }

func (e oneLineError) Error() string {
	lines := strings.FieldsFunc(e.err.Error(), func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

func (e oneLineError) Unwrap() error { return e.err }

// noArgs refuses arguments, naming the unknown subcommand or argument.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return fmt.Errorf("unknown command %q for %q (see '%s --help')", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return fmt.Errorf("%q takes no arguments, got %q", cmd.CommandPath(), args[0])
}

// exactArgs requires n arguments, described by what in the error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%q needs %s (got %d argument(s); see '%s --help')", cmd.CommandPath(), what, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// groupCmd returns a command that only holds subcommands.
func groupCmd(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	c.AddCommand(subs...)
	return c
}
