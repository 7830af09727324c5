// Command vtpeer-bench runs the load generators and benchmarks behind
// docs/BENCHMARKS.md. They are not part of the vtpeer binary that users
// install:
//
//	go run ./cmd/vtpeer-bench signal --pairs 1,50 --duration 3s
//	go run ./cmd/vtpeer-bench paths --rounds 5
//	go run ./cmd/vtpeer-bench files --size 1GiB --rounds 3
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	ossignal "os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/internal/logflag"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit codes, as vtpeer's.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// exitError carries an exit code beside its error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as the user's mistake in flags or arguments.
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// globals are the options every benchmark shares.
type globals struct {
	logFormat, logLevel string
	stderr              io.Writer
}

// logger builds the slog.Logger the flags ask for; logs go to stderr.
func (g *globals) logger() (*slog.Logger, error) {
	log, err := logflag.New(g.logFormat, g.logLevel, g.stderr)
	if err != nil {
		return nil, usageError(err)
	}
	return log, nil
}

// newRootCmd builds the vtpeer-bench command tree.
func newRootCmd(g *globals, stdout io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "vtpeer-bench",
		Short:         "Load generators and benchmarks for vtpeer (docs/BENCHMARKS.md)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(g.stderr)
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format on stderr: text or json")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.AddCommand(newBenchSignalCmd(g), newBenchPathsCmd(g), newBenchFilesCmd(g), newBenchFilesPeerCmd(g))
	return root
}

// run executes the command and maps its outcome to an exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := ossignal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{stderr: stderr}
	root := newRootCmd(g, stdout)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "vtpeer-bench: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") {
		return exitUsage
	}
	return exitFailure
}

// startCPUProfile writes a CPU profile to path ("" none) until stop.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
