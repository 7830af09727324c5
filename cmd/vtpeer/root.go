package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	ossignal "os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/internal/logflag"
)

// Exit codes. They are part of the CLI's interface: scripts rely on them.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (invalid tip, timeout, refused…)
	exitUsage   = 2 // bad flags or arguments
)

// exitError carries an exit code chosen by a command beside its error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as the user's mistake in flags or arguments.
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// globals are the options every command shares.
type globals struct {
	logFormat string
	logLevel  string
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	getenv    func(string) string
}

// logger builds the slog.Logger the flags ask for; logs always go to stderr.
func (g *globals) logger() (*slog.Logger, error) {
	log, err := logflag.New(g.logFormat, g.logLevel, g.stderr)
	if err != nil {
		return nil, usageError(err)
	}
	return log, nil
}

// env returns the environment variable name, or def when it is unset or empty.
func (g *globals) env(name, def string) string {
	if v := g.getenv(name); v != "" {
		return v
	}
	return def
}

// newRootCmd builds the vtpeer command tree.
func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "vtpeer",
		Short: "Peer-to-peer encrypted chat and signed VERY tips",
		Long: `vtpeer connects VeryTippers users directly, peer to peer, over WebRTC
DataChannels. Chat and signed tips travel end-to-end encrypted; the signaling
server only introduces the peers and can neither read nor forge what they send.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(g.stdin)
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format on stderr: text or json")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		_, err := g.logger() // reject a bad --log-level or --log-format on every command
		return err
	}
	root.AddCommand(
		newServeCmd(g),
		newTokenCmd(g),
		newJoinCmd(g),
		newTipCmd(g),
		newSendCmd(g),
		newVerifyCmd(g),
		newAccountCmd(g),
		newDemoCmd(g),
		newVersionCmd(g),
		newDoctorCmd(g),
		newGenDocsCmd(g),
	)
	return root
}

// run executes the CLI and maps its outcome to an exit code. It is the only
// place that decides exit codes; main is the only place that exits.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := ossignal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := newRootCmd(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "vtpeer: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") ||
		strings.Contains(err.Error(), "arg(s)") {
		return exitUsage
	}
	return exitFailure
}
