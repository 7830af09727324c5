package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// startServe runs "vtpeer serve args…" in-process and returns its address,
// a cancel func and a channel with the command's error.
func startServe(t *testing.T, args ...string) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	home := t.TempDir() // its own mailbox.db: in-process servers run in parallel
	g := &globals{stdin: strings.NewReader(""), stdout: io.Discard, stderr: pw, getenv: func(k string) string {
		if k == "VTPEER_HOME" {
			return home
		}
		return ""
	}}
	root := newRootCmd(g)
	root.SetArgs(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); _ = pw.Close() }()
	addrc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`msg=listening addr=(\S+)`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
	}()
	select {
	case addr := <-addrc:
		return addr, cancel, done
	case err := <-done:
		cancel()
		t.Fatalf("serve exited early: %v", err)
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("serve never logged its address")
	}
	return "", cancel, done
}

func TestServe(t *testing.T) {
	t.Parallel()
	addr, cancel, done := startServe(t)
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	c, err := signal.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Status string }
	_ = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if h.Status != "ok" {
		t.Fatalf("healthz status %q", h.Status)
	}
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("vtpeer_signal_connections 1")) {
		t.Fatalf("metrics lack the connection gauge:\n%.500s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	// the client was told the server is going away, then reconnects in vain.
	if f, err := c.Recv(ctx); err != nil || f.Type != signal.TypeReconnecting {
		t.Fatalf("after shutdown: %+v %v", f, err)
	}
}

func TestServeUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve", "--tls-cert", "x"},
		{"serve", "--jwt-secret-file", "/nonexistent"},
		{"serve", "--max-members", "1", "--addr", "127.0.0.1:0"},
		{"serve", "--send-queue-bytes", "-1", "--addr", "127.0.0.1:0"},
		{"serve", "--addr", "127.0.0.1:0", "--ice-server", "turn:turn.example.org:3478"},
		{"serve", "--addr", "127.0.0.1:0", "--ice-server", "http://example.org"},
		{"serve", "--addr", "127.0.0.1:0", "--turn", "--turn-addr", "127.0.0.1:0", "--turn-public-ip", "bogus"},
		{"serve", "--addr", "127.0.0.1:0", "--turn", "--turn-addr", "127.0.0.1:0", "--turn-ttl", "0s"},
		{"token", "--room", "r"},
	} {
		var stderr bytes.Buffer
		if code := run(args, strings.NewReader(""), io.Discard, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr.String())
		}
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("k", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run([]string{"token", "--room", "lobby", "--ttl", "1h", "--secret-file", secret, "--subject", "alice"},
		strings.NewReader(""), &out, io.Discard); code != exitOK {
		t.Fatalf("token exit %d", code)
	}
	tok := strings.TrimSpace(out.String())
	addr, cancel, done := startServe(t, "--jwt-secret-file", secret)
	defer func() { cancel(); <-done }()
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	for room, ok := range map[string]bool{"lobby": true, "other": false} {
		c, err := signal.Dial(ctx, "ws://"+addr+"/", &signal.ClientOptions{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Join(ctx, room)
		c.Close()
		if (err == nil) != ok {
			t.Errorf("join %s with token: %v, want ok=%v", room, err, ok)
		}
	}
}

// TestServeTURN: with --turn, joined.iceServers names the embedded TURN
// server over UDP and TCP, with credentials for the joined peerId that the
// server accepts (metrics show the allocation), and the same server as a
// STUN server without credentials that answers a Binding request.
func TestServeTURN(t *testing.T) {
	t.Parallel()
	addr, cancel, done := startServe(t, "--turn", "--turn-addr", "127.0.0.1:0", "--turn-allow-loopback", "--turn-ttl", "1h")
	defer func() { cancel(); <-done }()
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	joined := joinLobby(ctx, t, addr)
	if len(joined.ICEServers) != 2 {
		t.Fatalf("iceServers %+v", joined.ICEServers)
	}
	ice, stunServer := joined.ICEServers[0], joined.ICEServers[1]
	re := regexp.MustCompile(`^turn:127\.0\.0\.1:(\d+)\?transport=(udp|tcp)$`)
	if len(ice.URLs) != 2 || !re.MatchString(ice.URLs[0]) || !re.MatchString(ice.URLs[1]) {
		t.Fatalf("urls %v", ice.URLs)
	}
	expiry, peerID, _ := strings.Cut(ice.Username, ":")
	if peerID != joined.PeerID {
		t.Fatalf("username %q for peer %q", ice.Username, joined.PeerID)
	}
	if exp, err := strconv.ParseInt(expiry, 10, 64); err != nil || time.Until(time.Unix(exp, 0)) < 59*time.Minute {
		t.Fatalf("expiry %q", expiry)
	}
	server := re.FindStringSubmatch(ice.URLs[0])[0]
	server = strings.TrimSuffix(strings.TrimPrefix(server, "turn:"), "?transport=udp")
	if len(stunServer.URLs) != 1 || stunServer.URLs[0] != "stun:"+server || stunServer.Username != "" || stunServer.Credential != "" {
		t.Fatalf("stun entry %+v, want stun:%s without credentials", stunServer, server)
	}
	if mapped := stunBinding(t, server); mapped.IP.String() != "127.0.0.1" {
		t.Fatalf("stun binding mapped %v", mapped)
	}
	for _, tt := range []struct {
		name       string
		user, pass string
		ok         bool
	}{
		{"handed out", ice.Username, ice.Credential, true},
		{"forged", ice.Username, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", false},
	} {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lf := logging.NewDefaultLoggerFactory()
		lf.DefaultLogLevel = logging.LogLevelDisabled
		tc, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: server, TURNServerAddr: server,
			Username: tt.user, Password: tt.pass, Realm: "vtpeer", Conn: conn, LoggerFactory: lf})
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.Listen(); err != nil {
			t.Fatal(err)
		}
		relay, err := tc.Allocate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: allocate: %v", tt.name, err)
		}
		if err == nil {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Contains(body, []byte("vtpeer_turn_allocations 1")) {
				t.Errorf("metrics lack the allocation:\n%s", grepLines(body, "vtpeer_turn"))
			}
			_ = relay.Close()
		}
		tc.Close()
		_ = conn.Close()
	}
}

// TestServeICEServers: --ice-server URLs go to joined peers; turn: ones with
// TURN REST credentials under the --turn-secret-file secret, as coturn's
// use-auth-secret expects them.
func TestServeICEServers(t *testing.T) {
	t.Parallel()
	secretFile := filepath.Join(t.TempDir(), "turn.secret")
	secret := "a-coturn-static-auth-secret"
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, cancel, done := startServe(t, "--turn-secret-file", secretFile,
		"--ice-server", "turn:turn.example.org:3478?transport=udp", "--ice-server", "turns:turn.example.org:5349?transport=tcp",
		"--ice-server", "stun:stun.example.org:3478")
	defer func() { cancel(); <-done }()
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	joined := joinLobby(ctx, t, addr)
	if len(joined.ICEServers) != 2 {
		t.Fatalf("iceServers %+v", joined.ICEServers)
	}
	tr, st := joined.ICEServers[0], joined.ICEServers[1]
	if len(tr.URLs) != 2 || tr.URLs[0] != "turn:turn.example.org:3478?transport=udp" || len(st.URLs) != 1 || st.Username != "" {
		t.Fatalf("iceServers %+v", joined.ICEServers)
	}
	if !strings.HasSuffix(tr.Username, ":"+joined.PeerID) {
		t.Fatalf("username %q", tr.Username)
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(tr.Username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); tr.Credential != want {
		t.Fatalf("credential %q, want %q", tr.Credential, want)
	}
}

func grepLines(b []byte, substr string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// joinLobby joins room "lobby" on the server at addr with a real client
// (closed at the end of the test) and returns the joined frame.
func joinLobby(ctx context.Context, t *testing.T, addr string) signal.Frame {
	t.Helper()
	c, err := signal.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	joined, err := c.Join(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	return joined
}

// stunBinding sends one STUN Binding request to server from a new loopback
// socket and returns the XOR-MAPPED-ADDRESS of the answer.
func stunBinding(t *testing.T, server string) *net.UDPAddr {
	t.Helper()
	conn, err := net.Dial("udp4", server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if _, err := conn.Write(req.Raw); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("stun binding: %v", err)
	}
	res := &stun.Message{Raw: buf[:n]}
	if err := res.Decode(); err != nil || res.Type != stun.BindingSuccess {
		t.Fatalf("stun binding answer %v: %v", res.Type, err)
	}
	var xor stun.XORMappedAddress
	if err := xor.GetFrom(res); err != nil {
		t.Fatalf("stun binding answer: %v", err)
	}
	return &net.UDPAddr{IP: xor.IP, Port: xor.Port}
}
