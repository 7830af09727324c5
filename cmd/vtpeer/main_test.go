package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestMain keeps every test away from the user's own ~/.vtpeer: in-process
// commands read HOME and VTPEER_HOME, so both point into a directory made
// for this test binary (tests that need their own home set VTPEER_HOME or
// a getenv of their own).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vtpeer-test-home-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for k, v := range map[string]string{"HOME": dir, "VTPEER_HOME": dir + "/.vtpeer"} {
		if err := os.Setenv(k, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if os.Getenv("VTPEER_NAT_PROBE") == "" { // a NAT probe (this binary re-run in a namespace) needs no vtpeer binary
		buildBin() // the e2e tests' binary, before any test's clock starts
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
