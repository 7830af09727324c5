package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/app"
	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/signal"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// newDemoCmd builds `vtpeer demo`: the whole product in one process.
func newDemoCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a server, a tipper and a recipient on loopback and show a tip end to end",
		Long: `demo starts, in this one process and on loopback only: a signaling server on a
free port, an orchestrator stand-in that receives forwarded tips, and two peers
with throwaway accounts, a tipper and a recipient. It shows the handshake (the
same SAS on both sides, both addresses proven), a short chat, a signed tip that
the recipient verifies, forwards and answers with a signed receipt, and the same
tip sent again being refused as a replay. Nothing is left on disk.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeoutCause(cmd.Context(), timeout, errTimedOut)
			defer cancel()
			if !cmd.Flags().Changed("log-level") {
				g.logLevel = "warn" // keep the narration readable; --log-level info shows the libraries' logs
			}
			return runDemo(ctx, g, cmd.OutOrStdout())
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "give up if the demo has not finished by then")
	return cmd
}

// demoStep prints one narrated line.
type demoStep func(who, format string, args ...any)

func runDemo(ctx context.Context, g *globals, w io.Writer) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	say := demoStep(func(who, format string, args ...any) {
		fmt.Fprintf(w, "%-13s %s\n", who+":", fmt.Sprintf(format, args...))
	})
	dir, err := os.MkdirTemp("", "vtpeer-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	url, stopServer, err := startDemoServer(log)
	if err != nil {
		return err
	}
	defer stopServer()
	say("server", "signaling on %s (loopback only)", url)
	orch, err := startOrchestrator(say)
	if err != nil {
		return err
	}
	defer orch.close()
	say("orchestrator", "stand-in relayer on %s", orch.url)

	tipperKey, err := demoAccount(filepath.Join(dir, "tipper"))
	if err != nil {
		return err
	}
	defer tipperKey.Close()
	recipKey, err := demoAccount(filepath.Join(dir, "recipient"))
	if err != nil {
		return err
	}
	defer recipKey.Close()
	say("tipper", "throwaway account %s", tipperKey.Address().Hex())
	say("recipient", "throwaway account %s", recipKey.Address().Hex())

	room := "demo-" + randomHex(4)
	recip, err := startDemoPeer(ctx, demoPeerConfig{name: "recipient", server: url, room: room, signer: recipKey,
		home: filepath.Join(dir, "recipient"), forward: orch.url + "/submit-meta", logger: log})
	if err != nil {
		return err
	}
	defer recip.close()
	tipper, err := startDemoPeer(ctx, demoPeerConfig{name: "tipper", server: url, room: room, signer: tipperKey,
		expect: recipKey.Address().Hex(), home: filepath.Join(dir, "tipper"), logger: log})
	if err != nil {
		return err
	}
	defer tipper.close()
	say("both", "joined room %q; the tipper (newer member) offers, ICE on loopback", room)

	// 1. Handshake.
	tc, err := tipper.await(ctx, isConnected)
	if err != nil {
		return err
	}
	rc, err := recip.await(ctx, isConnected)
	if err != nil {
		return err
	}
	tcc, rcc := tc.(peer.PeerConnected), rc.(peer.PeerConnected)
	say("tipper", "sealed channel up via %s candidate, SAS %s, peer proved %s", tcc.CandidateType, tcc.SAS, tcc.Address)
	say("recipient", "sealed channel up via %s candidate, SAS %s, peer proved %s", rcc.CandidateType, rcc.SAS, rcc.Address)
	if tcc.SAS != rcc.SAS {
		return fmt.Errorf("demo: the SASes differ (%s vs %s): somebody is in the middle", tcc.SAS, rcc.SAS)
	}
	say("both", "SAS %s on both sides: no man in the middle", tcc.SAS)

	// 2. Chat.
	if err := tipper.room.Chat(ctx, tcc.Peer, "hi! loved your post"); err != nil {
		return err
	}
	if _, err := recip.await(ctx, isChat(say, "recipient", "tipper")); err != nil {
		return err
	}
	if err := recip.room.Chat(ctx, rcc.Peer, "thank you!"); err != nil {
		return err
	}
	if _, err := tipper.await(ctx, isChat(say, "tipper", "recipient")); err != nil {
		return err
	}

	// 3. A signed tip, verified, forwarded, receipted.
	amount, _ := tips.ParseAmount("5")
	sm, err := tips.Sign(tipperKey, tips.NewMeta(tipperKey.Address(), recipKey.Address(), amount, "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", time.Now()))
	if err != nil {
		return err
	}
	say("tipper", "signs 5 VERY → %s, messageHash %s", recipKey.Address().Hex(), sm.Meta.MessageHash().Hex())
	for round, want := range []bool{true, false} {
		if round == 1 {
			say("tipper", "sends the very same signed tip again (a replay)")
		}
		if err := tipper.room.SendTip(ctx, tcc.Peer, sm); err != nil {
			return err
		}
		if _, err := recip.await(ctx, isTip(say)); err != nil {
			return err
		}
		ev, err := tipper.await(ctx, isReceipt)
		if err != nil {
			return err
		}
		r := receiptEvent(ev.(app.Receipt))
		say("tipper", "%s", receiptLine("recipient", r)[2:])
		if r.Accepted != want {
			return fmt.Errorf("demo: receipt accepted=%v, want %v", r.Accepted, want)
		}
		if round == 0 {
			if err := orch.await(ctx); err != nil {
				return err
			}
		}
	}
	say("both", "done: chat and tip sealed end to end; the server saw only signaling")
	return nil
}

// startDemoServer runs a signaling server on a free loopback port.
func startDemoServer(log *slog.Logger) (string, func(), error) {
	srv, err := signal.NewServer(&signal.ServerOptions{Logger: log})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	stop := func() {
		_ = srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	}
	return "ws://" + ln.Addr().String(), stop, nil
}

// demoAccount creates a light-scrypt throwaway account and unlocks it.
func demoAccount(home string) (*tips.KeySigner, error) {
	ks, err := tips.OpenKeystore(filepath.Join(home, "keystore"), true)
	if err != nil {
		return nil, err
	}
	pw := randomHex(16)
	addr, err := ks.New(pw)
	if err != nil {
		return nil, err
	}
	return ks.Unlock(context.Background(), addr, pw) // light scrypt: milliseconds
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func isConnected(ev app.Event) bool { _, ok := ev.(peer.PeerConnected); return ok }

func isReceipt(ev app.Event) bool { _, ok := ev.(app.Receipt); return ok }

func isChat(say demoStep, who, from string) func(app.Event) bool {
	return func(ev app.Event) bool {
		c, ok := ev.(app.Chat)
		if ok {
			say(who, "<%s> %s", from, c.Text)
		}
		return ok
	}
}

// isTip matches the recipient's report of a tip its desk judged.
func isTip(say demoStep) func(app.Event) bool {
	return func(ev app.Event) bool {
		t, ok := ev.(app.Tip)
		if ok {
			say("recipient", "%s", tipLine("tipper", tipEventOf(t.Peer, t.Verdict))[2:])
		}
		return ok
	}
}

// errDemoPeerGone means a demo peer's Node stopped.
var errDemoPeerGone = errors.New("demo: peer stopped")
