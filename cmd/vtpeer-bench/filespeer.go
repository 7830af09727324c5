package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/app"
	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// The child processes of "vtpeer-bench files": one sender, one receiver, each
// a real vtpeer peer (signaling client, peer.Node, app.Room) in a process of
// its own so that its peak RSS is its own. They report to the parent as JSON
// lines on stdout (filesLine).

// rawLabel is the label of the plain DataChannel of the raw baseline.
const rawLabel = "vtpeer-bench-raw"

// rawRecord is the size of one raw baseline message: a sealed chunk record's
// (header, 32 KiB of data, GCM tag), so that both runs move the same messages.
const rawRecord = app.ChunkHeaderSize + app.ChunkSize + 16

// benchPassword protects the receiver's throw-away bench account.
const benchPassword = "vtpeer-bench"

type filesPeerOptions struct {
	role, url, room  string
	file, dir, home  string
	raw              byteSize
	rawFirst         bool
	cpuprof, memprof string
	timeout          time.Duration
	stdout           io.Writer
	linesMu          sync.Mutex
	lines            *json.Encoder
}

// filesLine is one report of a child to the parent.
type filesLine struct {
	Ev       string  `json:"ev"` // joined, offer, progress, done, raw, error
	Peer     string  `json:"peer,omitempty"`
	Bytes    int64   `json:"bytes,omitempty"`
	Moved    int64   `json:"moved,omitempty"`
	Total    int64   `json:"total,omitempty"`
	Manifest float64 `json:"manifest_s,omitempty"` // sender: hashing the files (SendFiles → offer)
	Transfer float64 `json:"transfer_s,omitempty"` // sender: offer → every file confirmed in place
	Raw      float64 `json:"raw_s,omitempty"`      // sender: the raw baseline, first send → the receiver's ack
	HWM      int64   `json:"hwm_kib,omitempty"`    // VmHWM when the sealed transfer ended
	Anon     int64   `json:"anon_kib,omitempty"`   // the largest RssAnon seen at a progress event
	Err      string  `json:"err,omitempty"`

	at time.Time // when the parent read it
}

func (o *filesPeerOptions) report(l filesLine) {
	o.linesMu.Lock()
	defer o.linesMu.Unlock()
	_ = o.lines.Encode(l)
}

// newBenchFilesPeerCmd is the hidden child role of "files".
func newBenchFilesPeerCmd(g *globals) *cobra.Command {
	o := &filesPeerOptions{timeout: 30 * time.Minute}
	cmd := &cobra.Command{
		Use:    "files-peer",
		Short:  "One side of 'vtpeer-bench files' (started by it)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (o.role != "send" && o.role != "recv") || o.url == "" || o.room == "" ||
				(o.role == "send" && o.file == "") || (o.role == "recv" && (o.dir == "" || o.home == "")) {
				return usageError(errors.New("files-peer: --role send --file F or --role recv --dir D --home H, with --url and --room"))
			}
			o.stdout = cmd.OutOrStdout()
			o.lines = json.NewEncoder(o.stdout)
			return runFilesPeer(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.role, "role", "", "send or recv")
	f.StringVar(&o.url, "url", "", "signaling server URL")
	f.StringVar(&o.room, "room", "", "room")
	f.StringVar(&o.file, "file", "", "sender: the file to send")
	f.StringVar(&o.dir, "dir", "", "receiver: the receive directory")
	f.StringVar(&o.home, "home", "", "receiver: keystore and postbox (the record of received chunks)")
	f.Var(&o.raw, "raw", "bytes of the raw DataChannel baseline after the transfer (0: none)")
	f.BoolVar(&o.rawFirst, "raw-first", false, "run the raw baseline before the transfer")
	f.StringVar(&o.cpuprof, "cpuprofile", "", "write a CPU profile of this process to this file")
	f.StringVar(&o.memprof, "memprofile", "", "write a heap profile of this process to this file at the end")
	f.DurationVar(&o.timeout, "timeout", o.timeout, "limit for the whole role")
	return cmd
}

func runFilesPeer(ctx context.Context, g *globals, o *filesPeerOptions) (err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	defer func() {
		if err != nil {
			o.report(filesLine{Ev: "error", Err: err.Error()})
		}
	}()
	log, err := g.logger()
	if err != nil {
		return err
	}
	stop, err := startCPUProfile(o.cpuprof)
	if err != nil {
		return err
	}
	defer stop()
	if o.memprof != "" {
		defer func() {
			if f, err := os.Create(o.memprof); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		}()
	}
	if o.role == "send" {
		return runFilesSender(ctx, log, o)
	}
	return runFilesReceiver(ctx, log, o)
}

// runFilesSender sends o.file to the one receiver of the room, then runs the
// raw baseline over a plain DataChannel to the same peer.
func runFilesSender(ctx context.Context, log *slog.Logger, o *filesPeerOptions) error {
	var tally statusTally
	bp, err := joinBenchWith(ctx, o.url, o.room, &peer.Options{VerifyIdentity: app.VerifyIdentity}, log, &tally)
	if err != nil {
		return err
	}
	defer bp.Close()
	room, err := app.New(&app.Options{Room: o.room, Node: bp.node, Logger: log})
	if err != nil {
		return err
	}
	room.Start()
	defer room.Close()
	o.report(filesLine{Ev: "joined"})
	offered := make(chan time.Time, 1)
	connected := make(chan string, 16)
	var anon anonPeak
	go func() {
		for ev := range room.Events() {
			switch e := ev.(type) {
			case peer.PeerConnected:
				select {
				case connected <- e.Peer:
				default:
				}
			case app.TransferOffer:
				select {
				case offered <- time.Now():
				default:
				}
				o.report(filesLine{Ev: "offer", Total: e.Total})
			case app.TransferProgress:
				anon.sample()
				o.report(filesLine{Ev: "progress", Peer: e.Peer, Bytes: e.Bytes, Moved: e.Moved, Total: e.Total})
			}
		}
	}()
	// The receiver is the one connected peer; a peer a transfer went to and that went away
	// (the bench kills it) is not chosen again: its successor is.
	var pickMu sync.Mutex
	spent := map[string]bool{}
	var last string
	pick := func(ps []peer.PeerInfo) (string, error) {
		pickMu.Lock()
		defer pickMu.Unlock()
		if last != "" {
			spent[last] = true
		}
		for _, p := range ps {
			if p.Connected && !spent[p.ID] {
				last = p.ID
				return p.ID, nil
			}
		}
		last = ""
		return "", errors.New("no receiver connected")
	}
	if o.raw > 0 && o.rawFirst {
		var to string
		select {
		case to = <-connected:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := reportRaw(ctx, o, bp.node, to); err != nil {
			return err
		}
	}
	began := time.Now()
	if err := room.SendFiles(ctx, []string{o.file}, pick); err != nil {
		return fmt.Errorf("send files: %w", err)
	}
	end := time.Now()
	var t1 time.Time
	select {
	case t1 = <-offered:
	default:
		t1 = began
	}
	pickMu.Lock()
	to := last
	pickMu.Unlock()
	o.report(filesLine{Ev: "done", Peer: to, Manifest: t1.Sub(began).Seconds(), Transfer: end.Sub(t1).Seconds(), HWM: vmHWM(), Anon: anon.sample()})
	if o.raw == 0 || o.rawFirst {
		return nil
	}
	return reportRaw(ctx, o, bp.node, to)
}

// reportRaw runs the raw baseline to peer to and reports its time.
func reportRaw(ctx context.Context, o *filesPeerOptions, n *peer.Node, to string) error {
	d, err := rawSend(ctx, n, to, int64(o.raw))
	if err != nil {
		return fmt.Errorf("raw baseline: %w", err)
	}
	o.report(filesLine{Ev: "raw", Raw: d.Seconds(), Bytes: rawMessages(int64(o.raw)) * app.ChunkSize})
	return nil
}

// rawMessages is the number of raw messages for size bytes of chunk data.
func rawMessages(size int64) int64 { return (size + app.ChunkSize - 1) / app.ChunkSize }

// rawSend is the baseline: a plain DataChannel (peer.Channel: no seal, the same 1 MiB / 512 KiB
// buffered-amount back-pressure as the transfer's channel) on the same PeerConnection, the same
// number of messages of a sealed chunk record's size; timed from the first send until the
// receiver's one-byte acknowledgement that it has them all.
func rawSend(ctx context.Context, n *peer.Node, to string, size int64) (time.Duration, error) {
	ch, err := n.OpenChannel(ctx, to, rawLabel)
	if err != nil {
		return 0, err
	}
	defer ch.Close()
	msg := make([]byte, rawRecord)
	start := time.Now()
	for range rawMessages(size) {
		if err := ch.Send(ctx, msg); err != nil {
			return 0, err
		}
	}
	if _, err := ch.Recv(ctx); err != nil {
		return 0, fmt.Errorf("acknowledgement: %w", err)
	}
	return time.Since(start), nil
}

// rawRecv takes the baseline's messages and acknowledges them.
func rawRecv(ctx context.Context, n *peer.Node, from string, size int64) error {
	ch, err := n.AcceptChannel(ctx, from, rawLabel)
	if err != nil {
		return err
	}
	defer ch.Close()
	for range rawMessages(size) {
		b, err := ch.Recv(ctx)
		if err != nil {
			return err
		}
		if len(b) != rawRecord {
			return fmt.Errorf("raw message of %d bytes, want %d", len(b), rawRecord)
		}
	}
	if err := ch.Send(ctx, []byte{1}); err != nil {
		return err
	}
	select { // the sender closes the channel once it has the acknowledgement
	case <-ch.Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runFilesReceiver takes every offer into o.dir with the record of received chunks in the
// postbox under o.home (so that a restarted receiver resumes), then answers the raw baseline.
func runFilesReceiver(ctx context.Context, log *slog.Logger, o *filesPeerOptions) error {
	signer, pb, err := benchAccount(ctx, o.home)
	if err != nil {
		return err
	}
	defer signer.Close()
	defer pb.Close()
	var tally statusTally
	bp, err := joinBenchWith(ctx, o.url, o.room, &peer.Options{VerifyIdentity: app.VerifyIdentity,
		Identity: app.Identity(signer, pb.PublicKey())}, log, &tally)
	if err != nil {
		return err
	}
	defer bp.Close()
	room, err := app.New(&app.Options{Room: o.room, Node: bp.node, Signer: signer, Postbox: pb, Logger: log,
		Files: &app.FileOptions{Dir: o.dir, AutoAccept: true, MaxFileSize: app.MaxFileSize}})
	if err != nil {
		return err
	}
	room.Start()
	defer room.Close()
	o.report(filesLine{Ev: "joined"})
	// It leaves once the transfer is complete, the raw baseline (if any) is done and the sender
	// left: the sender has then had the transfer's result.
	rawDone := make(chan error, 1)
	rawStarted, rawOK := false, o.raw == 0
	finished, complete := false, false
	var sender string
	left := map[string]bool{} // peers seen leaving: the sender may leave before its transfer's last progress is out
	var anon anonPeak
	startRaw := func(from string) {
		if !rawStarted && o.raw > 0 {
			rawStarted = true
			go func() { rawDone <- rawRecv(ctx, bp.node, from, int64(o.raw)) }()
		}
	}
	for !(complete && rawOK && left[sender]) {
		select {
		case ev, ok := <-room.Events():
			if !ok {
				return errors.New("room closed")
			}
			switch e := ev.(type) {
			case peer.PeerConnected:
				if o.rawFirst {
					startRaw(e.Peer)
				}
			case app.TransferOffer:
				if e.Incoming {
					o.report(filesLine{Ev: "offer", Peer: e.Peer, Total: e.Total})
				}
			case app.TransferProgress:
				anon.sample()
				o.report(filesLine{Ev: "progress", Peer: e.Peer, Bytes: e.Bytes, Moved: e.Moved, Total: e.Total})
				if finished && e.Bytes == e.Total {
					complete = true // the transfer's last progress follows its last TransferDone and its result
				}
			case peer.PeerLeft:
				left[e.Peer] = true
			case *app.TransferError:
				if e.Code != app.XferInterrupted && e.Code != app.XferCancelled {
					return e
				}
				log.Info("transfer interrupted", "err", e)
			case app.TransferDone:
				if !e.Last {
					continue
				}
				o.report(filesLine{Ev: "done", Peer: e.Peer, HWM: vmHWM(), Anon: anon.sample()})
				finished, sender = true, e.Peer
				startRaw(e.Peer)
			}
		case err := <-rawDone:
			if err != nil {
				return fmt.Errorf("raw baseline: %w", err)
			}
			rawOK = true
			o.report(filesLine{Ev: "raw"})
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// benchAccount opens (creating on the first run) the receiver's account (light scrypt) and
// postbox under home.
func benchAccount(ctx context.Context, home string) (*tips.KeySigner, *app.Postbox, error) {
	ks, err := tips.OpenKeystore(filepath.Join(home, "keystore"), true)
	if err != nil {
		return nil, nil, err
	}
	addrs, err := ks.Accounts()
	if err != nil {
		return nil, nil, err
	}
	if len(addrs) == 0 {
		a, err := ks.New(benchPassword)
		if err != nil {
			return nil, nil, err
		}
		addrs = append(addrs, a)
	}
	signer, err := ks.Unlock(ctx, addrs[0], benchPassword)
	if err != nil {
		return nil, nil, err
	}
	pb, err := app.OpenPostbox(filepath.Join(home, "postbox"))
	if err != nil {
		signer.Close()
		return nil, nil, err
	}
	return signer, pb, nil
}

// vmHWM is this process's peak resident set size so far (VmHWM, KiB; 0 where /proc is absent).
func vmHWM() int64 { return procStatus("VmHWM:") }

// anonPeak tracks the largest anonymous resident memory (RssAnon: the heap, stacks and
// buffers; not the mapped binary or the postbox's file) sampled at each progress event.
type anonPeak struct {
	mu  sync.Mutex
	max int64
}

func (a *anonPeak) sample() int64 {
	v := procStatus("RssAnon:")
	a.mu.Lock()
	defer a.mu.Unlock()
	a.max = max(a.max, v)
	return a.max
}

// procStatus is a "kB" field of /proc/self/status (0 where /proc is absent).
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
