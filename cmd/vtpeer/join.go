package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/verytippers/vtpeer/pkg/app"
	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// defaultSignalURL is where join and tip look for the signaling server when
// neither --server nor VTPEER_SIGNAL_URL says otherwise.
const defaultSignalURL = "ws://localhost:8080"

// errTimedOut is the cause of a context that --timeout ended.
var errTimedOut = errors.New("timed out")

// joinOptions are the flags of `vtpeer join`.
type joinOptions struct {
	room      string
	net       netFlags
	asJSON    bool
	send      []string
	exitAfter int
	timeout   time.Duration
	expect    string
	maxAge    time.Duration
	forward   string
	metrics   string
	to        string
	account   *accountFlags

	receiveDir  string // take files into this directory
	acceptFiles bool   // without asking
	maxFileSize string // the largest file taken (parseSize)
}

// newJoinCmd builds `vtpeer join ROOM`.
func newJoinCmd(g *globals) *cobra.Command {
	o := &joinOptions{}
	cmd := &cobra.Command{
		Use:   "join ROOM",
		Short: "Join a room: encrypted chat with its peers; receive and verify tips",
		Long: `Join ROOM on the signaling server and connect to every other vtpeer peer in it
over a WebRTC DataChannel. Everything is sealed end to end; compare the short
authentication string (SAS) with your peer to rule out a man in the middle.

Each line on stdin is a message to every connected peer. Commands:
  /peers            list the peers, their SAS and proven addresses
  /sas              show the SAS of each peer
  /tip 0x… 5 [cid]  sign a tip of 5 VERY (needs an account) and send it
  /send PATH...     send files or directories to the one connected peer ("quote" names with spaces)
  /accept [ID]      take an offer of files (--receive-dir); y answers too
  /refuse [ID]      refuse it; n answers too
  /quit             leave
On a terminal Ctrl-D leaves too; when stdin is not a terminal its end does not
end the session (run as a receiver until /quit, a signal, --exit-after or
--timeout).

Files: with --receive-dir DIR, offers of files are shown and wait for your
answer: while one waits, a line that is just y (yes) or n (no) answers the
oldest waiting offer instead of going out as chat; /accept ID and /refuse ID
answer a given one (ID: the first characters of the offer's id). With
--accept-files every offer is taken without asking (for scripts). Without
--receive-dir offers are refused (not_receiving) and you are told.

With an account, the peer is shown which address you are, and tips get
signed receipts. Without --account, join uses the only account in the
keystore when there is exactly one (and says so); with none it joins
anonymously, with several it says how to pick one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.room = args[0]
			err := runJoin(cmd.Context(), cmd, g, o)
			if err != nil && o.asJSON {
				// In --json mode every outcome is also an event on stdout.
				code := "failed"
				var ee *exitError
				switch {
				case errors.Is(err, errTimedOut):
					code = "timeout"
				case errors.As(err, &ee) && ee.code == exitUsage:
					code = "usage"
				}
				newOutput(cmd.OutOrStdout(), true).event(evError{Type: "error", Code: code, Error: err.Error()}, "")
			}
			return err
		},
	}
	f := cmd.Flags()
	o.net.bind(cmd, g)
	f.BoolVar(&o.asJSON, "json", false, "print every event as one JSON object per line on stdout (logs stay on stderr)")
	f.StringArrayVar(&o.send, "send", nil, "send this message once a peer is connected, exit 0 once every connected peer acknowledged (repeatable)")
	f.IntVar(&o.exitAfter, "exit-after", 0, "exit 0 after receiving this many messages and tips")
	f.DurationVar(&o.timeout, "timeout", 0, "give up (exit 1) if --send or --exit-after is not done by then; 0 = no limit")
	f.StringVar(&o.expect, "expect", "", "abort unless the peer proves this account address")
	f.DurationVar(&o.maxAge, "max-age", tips.DefaultMaxAge, "refuse tips signed longer ago than this")
	f.StringVar(&o.metrics, "metrics-addr", "", "serve this peer's Prometheus metrics on ADDR/metrics (e.g. 127.0.0.1:9464)")
	f.StringVar(&o.to, "to", "", "address --send to this account only; kept on disk (and in the server's mailbox) until delivered")
	f.StringVar(&o.forward, "forward", "", "POST each accepted tip to this orchestrator URL (…/submit-meta), with a persistent outbox")
	f.StringVar(&o.receiveDir, "receive-dir", "", "take files peers offer into this directory (asks first unless --accept-files)")
	f.BoolVar(&o.acceptFiles, "accept-files", false, "with --receive-dir: accept every offer of files without asking")
	f.StringVar(&o.maxFileSize, "max-file-size", "4GiB", "with --receive-dir: refuse offers with a file larger than this (e.g. 512MiB, 10GB)")
	o.account = bindAccountFlags(cmd, g, false)
	return cmd
}

// usesAccount reports whether the user asked for an account on cmd.
func usesAccount(cmd *cobra.Command) bool {
	for _, name := range []string{"account", "from", "keystore", "password-file"} {
		if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed {
			return true
		}
	}
	return false
}

func runJoin(ctx context.Context, cmd *cobra.Command, g *globals, o *joinOptions) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	if o.exitAfter < 0 || o.timeout < 0 || o.maxAge <= 0 {
		return usageError(errors.New("--exit-after and --timeout must not be negative, --max-age must be positive"))
	}
	if err := checkRoom(o.room); err != nil {
		return err
	}
	if o.to != "" {
		a, err := tips.ParseAddress(o.to)
		if err != nil {
			return usageError(fmt.Errorf("--to: %w", err))
		}
		if len(o.send) == 0 {
			return usageError(errors.New("--to needs --send and an account (--account, or the only one in the keystore)"))
		}
		o.to = a.Hex()
	}
	files, err := o.fileOptions(cmd)
	if err != nil {
		return err
	}
	if o.expect != "" {
		a, err := tips.ParseAddress(o.expect)
		if err != nil {
			return usageError(fmt.Errorf("--expect: %w", err))
		}
		o.expect = a.Hex()
	}
	ice, err := o.net.iceServers()
	if err != nil {
		return err
	}
	out := newOutput(cmd.OutOrStdout(), o.asJSON)
	signer, err := pickAccount(cmd, o.account, o.asJSON, out, log)
	if err != nil {
		return err
	}
	if signer != nil {
		defer signer.Close()
	}
	if o.to != "" && signer == nil {
		return usageError(errors.New("--to needs an account: --account, or exactly one in the keystore (`vtpeer account new` creates one)"))
	}
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, o.timeout, errTimedOut)
		defer cancel()
	}
	var reg *prometheus.Registry
	if o.metrics != "" {
		reg = prometheus.NewRegistry()
		stop, err := serveMetrics(o.metrics, reg, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	var acct tips.Signer // nil, not a nil *KeySigner, when anonymous
	if signer != nil {
		acct = signer
	}
	var registry prometheus.Registerer
	if reg != nil {
		registry = reg
	}
	desk, err := openDesk(g, o, out, acct, registry, log)
	if err != nil {
		return err
	}
	defer desk.Close()

	j := newJoinLoop(g, o, out, log)
	mails, mailed := make(chan []byte, 64), make(chan struct{}, 64)
	cfg := roomConfig{server: o.net.server, room: o.room, token: o.net.token, expect: o.expect, iceServers: ice,
		loopbackOnly: o.net.loopback, via: o.net.via, p2pTimeout: o.net.p2p, turnWait: o.net.turnWait, connect: o.net.connect, retryDial: true,
		logger: log, status: j.showStatus,
		onMail: func(b []byte) { mails <- b }, onMailed: func() { mailed <- struct{}{} }}
	opts := &app.Options{Room: o.room, Desk: desk, Mail: mails, Mailed: mailed, Files: files, Logger: log}
	if signer != nil {
		pb, err := openPostbox(vtpeerHome(g))
		if err != nil {
			return err
		}
		defer pb.Close()
		j.signer, opts.Signer, opts.Postbox = signer, signer, pb
		cfg.signer, cfg.staticKey, cfg.mailbox = signer, pb.PublicKey(), pb.MailboxID()
	} else if files != nil {
		files.RecordDir = vtpeerHome(g) // no postbox: the record of received chunks still survives a restart
	}
	cfg.registry = registry
	out.text("* connecting to %s", o.net.server)
	ms, err := startRoom(ctx, cfg)
	if err != nil {
		return err
	}
	defer ms.Close()
	opts.Node, opts.Mailer, opts.Present = ms.node, ms, ms.peers
	room, err := app.New(opts)
	if err != nil {
		return err
	}
	defer room.Close()
	if o.to != "" {
		if err := room.QueueChat(o.to, o.send); err != nil {
			return err
		}
		out.text("* %d message(s) for %s kept in the outbox until delivered", len(o.send), o.to)
	}
	j.room = room
	room.Start()
	return j.run(ctx)
}

// openDesk opens the tip desk in VTPEER_HOME: replay store, forward queue
// and, with --forward, the forwarder, whose outcomes become forward events.
func openDesk(g *globals, o *joinOptions, out *output, signer tips.Signer, reg prometheus.Registerer, log *slog.Logger) (*tips.Desk, error) {
	opts := &tips.DeskOptions{MaxAge: o.maxAge, ForwardURL: o.forward, Signer: signer, Registry: reg, Logger: log,
		OnForward: func(h common.Hash, state, lastErr string) {
			hash := h.Hex()
			out.event(evForward{Type: "forward", MessageHash: hash, State: state, Error: lastErr},
				fmt.Sprintf("* tip %s forwarded: %s %s", shortID(hash), state, lastErr))
		}}
	home := vtpeerHome(g)
	desk, err := tips.OpenDesk(filepath.Join(home, "vtpeer.db"), opts)
	switch {
	case errors.Is(err, tips.ErrStoreInUse):
		return nil, fmt.Errorf("%w: another vtpeer join uses %s; give this one its own VTPEER_HOME", err, home)
	case errors.Is(err, tips.ErrForwardURL):
		return nil, usageError(fmt.Errorf("--forward: %w", err))
	}
	return desk, err
}

// openPostbox opens the postbox in VTPEER_HOME.
func openPostbox(home string) (*app.Postbox, error) {
	pb, err := app.OpenPostbox(home)
	if errors.Is(err, app.ErrPostboxInUse) {
		return nil, fmt.Errorf("postbox: %s is in use by another vtpeer process; give this one its own VTPEER_HOME", home)
	}
	return pb, err
}

// pickAccount unlocks the account join (or send) proves to its peers: the
// one the account flags name, else the only one in the keystore (said in a
// status line, or on stderr under --json), else none (anonymous; with
// several accounts a status line says how to pick one).
func pickAccount(cmd *cobra.Command, account *accountFlags, asJSON bool, out *output, log *slog.Logger) (*tips.KeySigner, error) {
	note := func(line string) {
		if asJSON {
			log.Info(line) // stderr: stdout carries only events
			return
		}
		out.text("* %s", line)
	}
	if usesAccount(cmd) {
		return account.unlock(cmd, note)
	}
	n, err := account.count()
	switch {
	case err != nil:
		return nil, err
	case n == 1:
		return account.unlock(cmd, note)
	case n > 1:
		note(fmt.Sprintf("%d accounts in the keystore %s: joining without one; pick one with --account 0x… (see `vtpeer account list`)", n, account.dir()))
	}
	return nil, nil
}

// readLines sends each line of stdin; it closes the channel at EOF.
// The goroutine may outlive the command while a read is blocked: stdin is
// the process's and is closed at exit.
func readLines(g *globals) <-chan inputLine {
	ch := make(chan inputLine)
	go func() {
		defer close(ch)
		readInputLines(g.stdin, maxInputLine, func(l inputLine) { ch <- l })
	}()
	return ch
}

// maxInputLine is the longest stdin line taken as a message; longer lines
// are refused one by one and reading goes on.
const maxInputLine = 256 << 10

// inputLine is one line of stdin, or tooLong for a line over the limit.
type inputLine struct {
	text    string
	tooLong int // the length of a refused line, 0 for a good one
}

// readInputLines calls emit for every line of r (without its newline) until
// EOF or a read error. A line longer than limit is reported with tooLong and
// skipped; memory stays bounded by limit.
func readInputLines(r io.Reader, limit int, emit func(inputLine)) {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	over := 0
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case over > 0:
			over += len(chunk)
		case len(buf)+len(chunk) > limit+1:
			over = len(buf) + len(chunk)
			buf = buf[:0]
		default:
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if over > 0 {
			emit(inputLine{tooLong: over})
		} else if len(buf) > 0 {
			emit(inputLine{text: strings.TrimRight(string(buf), "\r\n")})
		}
		buf, over = buf[:0], 0
		if err != nil {
			return
		}
	}
}

// stdinIsTerminal reports whether Ctrl-D should leave.
func stdinIsTerminal(g *globals) bool {
	f, ok := g.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// peerName is how a peer is shown: its proven address, else its id.
func peerName(p peer.PeerInfo) string {
	if p.Address != "" {
		return shortID(p.Address)
	}
	return shortID(p.ID)
}
