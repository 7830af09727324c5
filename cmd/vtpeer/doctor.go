package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/doctor"
)

// doctorOptions are the flags of vtpeer doctor.
type doctorOptions struct {
	server  string
	token   string
	room    string
	json    bool
	timeout time.Duration
	noSrv   bool
}

// newDoctorCmd checks the server, the network and this machine.
func newDoctorCmd(g *globals) *cobra.Command {
	o := &doctorOptions{}
	var acct *accountFlags
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the server, the network and this machine: why can't I connect?",
		Long: `Run one checklist and say for each line ok, warn or fail, with the fix:

  server   DNS, TCP, TLS certificate (wss://), /healthz, a WebSocket join and
           leave, the protocol version, whether a token is required
  network  the NAT type (STUN bindings from two sockets through the server's
           ICE servers), TURN allocations over UDP and TCP with the server's
           credentials, and two local peers connected through TURN relays
  machine  UDP buffer limits, the open-file limit, the clock against the
           server's, VTPEER_HOME writable and not in use, the keystore's
           accounts and whether the password unlocks

Exit status 0 when nothing failed (warnings do not fail), 1 otherwise.`,
		Example: `  vtpeer doctor
  vtpeer doctor --server wss://signal.example.org --password-file pw
  vtpeer doctor --json | jq '.checks[] | select(.status != "ok")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDoctor(cmd, g, o, acct) },
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", g.env("VTPEER_SIGNAL_URL", defaultSignalURL), "signaling server URL (env VTPEER_SIGNAL_URL)")
	f.StringVar(&o.token, "token", g.env("VTPEER_TOKEN", ""), "signaling JWT for servers that require one (env VTPEER_TOKEN)")
	f.StringVar(&o.room, "room", "", "room for the join-and-leave check (default: a fresh random one; set it for a room-bound token)")
	f.BoolVar(&o.noSrv, "no-server", false, "check this machine only")
	f.BoolVar(&o.json, "json", false, `print one JSON object: {"checks":[{"group","check","status","detail","fix"}…],"ok":N,"warn":N,"fail":N}`)
	f.DurationVar(&o.timeout, "timeout", doctor.DefaultTimeout, "bound on each network check")
	acct = bindAccountFlags(cmd, g, false)
	return cmd
}

func runDoctor(cmd *cobra.Command, g *globals, o *doctorOptions, acct *accountFlags) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	if o.timeout <= 0 {
		return usageError(errors.New("--timeout must be positive"))
	}
	opts := &doctor.Options{Token: o.token, Room: o.room, Home: vtpeerHome(g), Keystore: acct.keystore,
		Account: acct.account, Timeout: o.timeout, Logger: log}
	if !o.noSrv {
		opts.Server = o.server
	}
	if acct.passwordFile != "" || g.getenv("VTPEER_PASSWORD") != "" {
		pw, err := readPassword(g, cmd, acct.passwordFile, "")
		if err != nil {
			return err
		}
		opts.Password, opts.HavePassword = pw, true
	}
	rep, err := doctor.Run(cmd.Context(), opts)
	if errors.Is(err, doctor.ErrBadOptions) {
		return usageError(fmt.Errorf("--server %q: want a ws:// or wss:// URL, e.g. ws://localhost:8080", o.server))
	}
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.json {
		err = json.NewEncoder(out).Encode(struct {
			Checks []doctor.Result `json:"checks"`
			OK     int             `json:"ok"`
			Warn   int             `json:"warn"`
			Fail   int             `json:"fail"`
		}{rep.Results, rep.Count(doctor.StatusOK), rep.Count(doctor.StatusWarn), rep.Count(doctor.StatusFail)})
	} else {
		err = writeDoctorText(out, rep)
	}
	if err != nil {
		return err
	}
	if rep.Failed() {
		return &exitError{code: exitFailure, err: fmt.Errorf("doctor: %d check(s) failed", rep.Count(doctor.StatusFail))}
	}
	return nil
}

// writeDoctorText prints the checklist, one line per check and the fix
// under each warning or failure.
func writeDoctorText(w io.Writer, rep *doctor.Report) error {
	var b strings.Builder
	group := ""
	for _, c := range rep.Results {
		if c.Group != group {
			group = c.Group
			fmt.Fprintf(&b, "%s\n", group)
		}
		fmt.Fprintf(&b, "  %-4s  %-13s %s\n", c.Status, c.Check, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(&b, "  %-4s  %-13s fix: %s\n", "", "", c.Fix)
		}
	}
	fmt.Fprintf(&b, "%d ok, %d warn, %d fail, %d skipped\n", rep.Count(doctor.StatusOK), rep.Count(doctor.StatusWarn),
		rep.Count(doctor.StatusFail), rep.Count(doctor.StatusSkip))
	_, err := io.WriteString(w, b.String())
	return err
}
