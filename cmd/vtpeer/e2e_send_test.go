package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The file transfer end to end: `vtpeer send` and `vtpeer join --receive-dir` as processes.

// writeRandom writes size random bytes to path and returns their SHA-256 (hex).
func writeRandom(t *testing.T, path string, size int64) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sha256File is the SHA-256 (hex) of the file at path.
func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// makeTree makes root/{a.txt, empty, sub/deeper/data.bin (size random bytes), sub/empty-too}.
func makeTree(t *testing.T, root string, size int64) {
	t.Helper()
	writeRandom(t, filepath.Join(root, "sub", "deeper", "data.bin"), size)
	for p, data := range map[string]string{"a.txt": "hello\n", "empty": "", "sub/empty-too": ""} {
		if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sameFiles checks that every file under src is under dst/base(src) with the same bytes, and
// that no .part file is left in dst.
func sameFiles(t *testing.T, src, dst string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(src), p)
		if sha256File(t, filepath.Join(dst, rel)) != sha256File(t, p) {
			t.Errorf("%s differs", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".part") {
			t.Errorf("%s left behind", p)
		}
		return nil
	})
	if n == 0 {
		t.Fatalf("no files under %s", src)
	}
}

// output returns what p printed on stdout and stderr once it exited.
func (p *proc) output() string {
	var out []string
	for l := range p.lines {
		out = append(out, l)
	}
	return strings.Join(append(p.seen, out...), "\n") + "\n" + p.stderr.String()
}

// TestE2ESendFileAndTree: a 20 MiB random file and a directory tree (nested directories,
// empty files) go from `vtpeer send` to `join --receive-dir --accept-files`; the hashes in
// both sides' transfer-done events and on disk are the source's.
func TestE2ESendFileAndTree(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	src, dir := t.TempDir(), filepath.Join(t.TempDir(), "inbox")
	bigSum := writeRandom(t, filepath.Join(src, "big.bin"), 20<<20)
	makeTree(t, filepath.Join(src, "tree"), 300<<10+7)
	net := []string{"--server", url, "--ice-loopback"}

	recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "files", "--json", "--receive-dir", dir, "--accept-files"}, net...)...)
	recv.waitEvent(ctx, "joined")
	send := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"send", filepath.Join(src, "big.bin"), filepath.Join(src, "tree"), "--room", "files", "--json", "--timeout", "120s"}, net...)...)

	if rc, sc := recv.waitEvent(ctx, "peer-connected"), send.waitEvent(ctx, "peer-connected"); rc["sas"] == "" || rc["sas"] != sc["sas"] {
		t.Fatalf("SAS differ: receiver %v, sender %v", rc, sc)
	}
	offer := recv.waitEvent(ctx, "transfer-offer")
	if offer["incoming"] != true || offer["ask"] == true || offer["total"] != float64(20<<20+300<<10+7+6) || len(offer["files"].([]any)) != 5 {
		t.Fatalf("receiver's offer = %v", offer)
	}
	got := map[string]string{}
	recv.waitLine(ctx, "the last transfer-done", func(l string) bool {
		ev := decodeEvent(t, l)
		if ev["type"] == "transfer-done" {
			got[ev["path"].(string)] = ev["sha256"].(string)
			return ev["last"] == true
		}
		return false
	})
	if len(got) != 5 || got["big.bin"] != bigSum || got["tree/sub/deeper/data.bin"] != sha256File(t, filepath.Join(src, "tree", "sub", "deeper", "data.bin")) {
		t.Fatalf("receiver's transfer-done hashes = %v (want big.bin %s)", got, bigSum)
	}
	sent := map[string]string{}
	send.waitLine(ctx, "the sender's last transfer-done", func(l string) bool {
		ev := decodeEvent(t, l)
		if ev["type"] == "transfer-done" {
			sent[ev["path"].(string)] = ev["sha256"].(string)
			return ev["last"] == true
		}
		return false
	})
	if fmt.Sprint(sent) != fmt.Sprint(got) {
		t.Fatalf("sender's transfer-done %v, receiver's %v", sent, got)
	}
	if code := send.wait(ctx); code != 0 {
		t.Fatalf("send exit %d:\n%s", code, send.output())
	}
	sameFiles(t, filepath.Join(src, "big.bin"), dir)
	sameFiles(t, filepath.Join(src, "tree"), dir)
	if st, err := os.Stat(filepath.Join(dir, "tree", "empty")); err != nil || st.Size() != 0 {
		t.Fatalf("empty file: %v %v", st, err)
	}
}

// TestE2ESendBig: 200 MiB over the real binaries, hashes equal (about 10 s here).
func TestE2ESendBig(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	src, dir := filepath.Join(t.TempDir(), "big.bin"), t.TempDir()
	sum := writeRandom(t, src, 200<<20)
	net := []string{"--server", url, "--ice-loopback"}
	recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "big", "--json", "--receive-dir", dir, "--accept-files"}, net...)...)
	recv.waitEvent(ctx, "joined")
	began := time.Now()
	send := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"send", src, "--room", "big", "--json"}, net...)...)
	done := recv.waitEvent(ctx, "transfer-done")
	if done["sha256"] != sum || sha256File(t, filepath.Join(dir, "big.bin")) != sum {
		t.Fatalf("transfer-done %v, want sha256 %s", done, sum)
	}
	if code := send.wait(ctx); code != 0 {
		t.Fatalf("send exit %d:\n%s", code, send.output())
	}
	t.Logf("200 MiB in %s (%.1f MiB/s, hashing included)", time.Since(began).Round(time.Millisecond), 200/time.Since(began).Seconds())
}

// TestE2ESendResumeAfterKill: a process is killed (-9) half way — the receiver, started again
// with the same account, VTPEER_HOME and receive directory while the same `send` keeps
// running; or the sender, whose same command is run again — and the transfer completes, the
// receiver getting about the remainder only after the restart.
func TestE2ESendResumeAfterKill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, killed string
		anonymous    bool // the receiver has no account (no postbox): its record is transfers.db in VTPEER_HOME
	}{
		{"receiver", "receiver", false},
		{"sender", "sender", false},
		{"anonymous receiver", "receiver", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testResumeAfterKill(t, tc.killed, tc.anonymous)
		})
	}
}

func testResumeAfterKill(t *testing.T, killed string, anonymous bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	ks, pw, addr := newAccount(ctx, t)
	home, dir := t.TempDir(), t.TempDir()
	const size = 96 << 20
	src := filepath.Join(t.TempDir(), "movie.bin")
	sum := writeRandom(t, src, size)
	net := []string{"--server", url, "--ice-loopback"}
	account, to := []string{"--keystore", ks, "--password-file", pw, "--account", addr}, []string{"--to", addr}
	if anonymous {
		account, to = nil, nil // the one peer in the room
	}
	receiver := func() *proc {
		args := append([]string{"join", "resume", "--json", "--receive-dir", dir, "--accept-files"}, account...)
		p := startProc(t, []string{"VTPEER_HOME=" + home}, append(args, net...)...)
		p.waitEvent(ctx, "joined")
		return p
	}
	sender := func() *proc {
		args := append([]string{"send", src, "--room", "resume", "--json", "--timeout", "200s"}, to...)
		return startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append(args, net...)...)
	}
	rx := receiver()
	send := sender()

	var held float64
	rx.waitLine(ctx, "half of the file on the receiver", func(l string) bool {
		ev := decodeEvent(t, l)
		if ev["type"] == "transfer-progress" {
			held = ev["bytes"].(float64)
		}
		return held >= size/2
	})
	victim := rx
	if killed == "sender" {
		victim = send
	}
	if err := victim.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	<-victim.done
	if killed == "receiver" {
		if _, err := os.Stat(filepath.Join(dir, "movie.bin.part")); err != nil {
			t.Fatalf("the .part is not kept after the kill: %v", err)
		}
		rx = receiver()
	} else {
		send = sender()
	}
	if _, err := os.Stat(filepath.Join(dir, "movie.bin")); err == nil {
		t.Fatal("the file is in place before it was complete")
	}

	var final map[string]any
	resumed := killed == "receiver" // the receiver's events after the restart are the new run's
	rx.waitLine(ctx, "the final progress after the restart", func(l string) bool {
		ev := decodeEvent(t, l)
		switch ev["type"] {
		case "transfer-offer":
			resumed = true
		case "transfer-done":
			if ev["sha256"] != sum {
				t.Fatalf("transfer-done %v, want sha256 %s", ev, sum)
			}
		case "transfer-progress":
			if resumed && ev["file"] == nil && ev["bytes"] == float64(size) {
				final = ev
				return true
			}
		case "transfer-error":
			if resumed || (ev["code"] != "interrupted" && ev["code"] != "cancelled") {
				t.Fatalf("transfer-error: %v", ev)
			}
		}
		return false
	})
	if code := send.wait(ctx); code != 0 {
		t.Fatalf("send exit %d:\n%s", code, send.output())
	}
	if sha256File(t, filepath.Join(dir, "movie.bin")) != sum {
		t.Fatal("the file in place is not the source")
	}
	// Chunks enter the record every 8 MiB (after a sync), and some arrive between the last
	// progress report and the kill: the remainder is within those bounds.
	moved := final["moved"].(float64)
	remainder := size - held
	if moved > remainder+16<<20 || moved < remainder-32<<20 || moved <= 0 {
		t.Fatalf("after the restart %.0f bytes moved; the receiver reported %.0f of %d before the kill (remainder %.0f)", moved, held, size, remainder)
	}
	t.Logf("%s killed at %.1f MiB of %d MiB; %.1f MiB moved after the restart (remainder %.1f MiB)", killed, held/(1<<20), size>>20, moved/(1<<20), remainder/(1<<20))
}

// TestE2ESendAnswers: an offer waits for the receiver's answer — y takes it, /refuse ID
// refuses it (the sender exits 1 with the reason) — and a join without --receive-dir refuses
// every offer (not_receiving), telling its user.
func TestE2ESendAnswers(t *testing.T) {
	t.Parallel()
	pctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel) // the parallel subtests run after this function returns
	_, url := startServeProc(pctx, t, "")
	net := []string{"--server", url, "--ice-loopback"}
	tests := []struct {
		name    string
		recv    []string
		answer  string // typed on the receiver's stdin once the offer is shown; ID: the offer's id
		code    int
		errCode string // the sender's transfer-error code
	}{
		{"y accepts", []string{"--receive-dir", "DIR"}, "y", 0, ""},
		{"refuse by id", []string{"--receive-dir", "DIR"}, "/refuse ID", exitFailure, "refused"},
		{"no receive dir", nil, "", exitFailure, "not_receiving"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Its own deadline, from when it runs: parallel subtests wait for a free slot
			// (GOMAXPROCS of them at once) behind the package's other tests.
			ctx, cancel := context.WithTimeout(pctx, 150*time.Second)
			defer cancel()
			room := fmt.Sprintf("answers-%d", i)
			dir := filepath.Join(t.TempDir(), "in")
			args := []string{"join", room, "--json"}
			for _, a := range tt.recv {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append(args, net...)...)
			recv.waitEvent(ctx, "joined")
			src := filepath.Join(t.TempDir(), "note.txt")
			sum := writeRandom(t, src, 100<<10)
			send := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"send", src, "--room", room, "--json", "--timeout", "90s"}, net...)...)
			if tt.answer != "" {
				offer := recv.waitEvent(ctx, "transfer-offer")
				if offer["ask"] != true || offer["dir"] != dir {
					t.Fatalf("offer = %v, want ask true, dir %s", offer, dir)
				}
				id := offer["id"].(string)[:8]
				if _, err := io.WriteString(recv.stdin, strings.ReplaceAll(tt.answer, "ID", id)+"\n"); err != nil {
					t.Fatal(err)
				}
			}
			code := send.wait(ctx)
			out := send.output()
			if code != tt.code {
				t.Fatalf("send exit %d, want %d:\n%s", code, tt.code, out)
			}
			if tt.errCode == "" {
				if sha256File(t, filepath.Join(dir, "note.txt")) != sum {
					t.Fatal("the file in place is not the source")
				}
				return
			}
			if !strings.Contains(out, `"type":"transfer-error"`) || !strings.Contains(out, `"code":"`+tt.errCode+`"`) {
				t.Fatalf("send output has no transfer-error %s:\n%s", tt.errCode, out)
			}
			if ev := recv.waitEvent(ctx, "transfer-error"); ev["code"] != tt.errCode || ev["incoming"] != true {
				t.Fatalf("receiver's transfer-error = %v, want code %s", ev, tt.errCode)
			}
			if _, err := os.Stat(filepath.Join(dir, "note.txt")); err == nil {
				t.Fatal("a refused file was placed")
			}
		})
	}
}

// TestE2ESendViaServerRelay: with no WebRTC path (--via server) the files go through the
// signaling server's relay, with a transfer-warning, and arrive whole.
func TestE2ESendViaServerRelay(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	net := []string{"--server", url, "--via", "server"}
	dir := t.TempDir()
	recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "relay", "--json", "--receive-dir", dir, "--accept-files"}, net...)...)
	recv.waitEvent(ctx, "joined")
	src := filepath.Join(t.TempDir(), "relayed")
	makeTree(t, src, 200<<10)
	send := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"send", src, "--room", "relay", "--json", "--timeout", "120s"}, net...)...)
	warn := send.waitEvent(ctx, "transfer-warning")
	if warn["code"] != "relay" || !strings.Contains(warn["reason"].(string), "relay") {
		t.Fatalf("transfer-warning = %v", warn)
	}
	if code := send.wait(ctx); code != 0 {
		t.Fatalf("send exit %d:\n%s", code, send.output())
	}
	recv.waitLine(ctx, "the last transfer-done", func(l string) bool {
		ev := decodeEvent(t, l)
		return ev["type"] == "transfer-done" && ev["last"] == true
	})
	sameFiles(t, src, dir)
}

// TestE2ESendTwoPeers: two peers in the room and neither --to nor --peer: the exactly-one
// error, exit 1, nothing sent; --peer picks one.
func TestE2ESendTwoPeers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	net := []string{"--server", url, "--ice-loopback"}
	dirs := []string{t.TempDir(), t.TempDir()}
	var ids []string
	var recv []*proc
	for _, d := range dirs {
		p := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "two", "--json", "--receive-dir", d, "--accept-files", "--log-level", "debug"}, net...)...)
		ids = append(ids, p.waitEvent(ctx, "joined")["peerId"].(string))
		recv = append(recv, p)
	}
	defer func() {
		if t.Failed() {
			for i, p := range recv {
				var lines []string
				for len(p.lines) > 0 {
					lines = append(lines, <-p.lines)
				}
				t.Logf("receiver %d (%s) stdout:\n%s\nstderr:\n%s", i, ids[i], strings.Join(lines, "\n"), p.stderr.String())
			}
		}
	}()
	src := filepath.Join(t.TempDir(), "x.bin")
	writeRandom(t, src, 4096)
	send := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"send", src, "--room", "two", "--timeout", "90s"}, net...)...)
	code := send.wait(ctx)
	out := send.output()
	if code != exitFailure || !strings.Contains(out, "ambiguous recipient: 2 peers are connected") || !strings.Contains(out, "--peer") {
		t.Fatalf("send exit %d, want %d with the exactly-one error:\n%s", code, exitFailure, out)
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "x.bin")); err == nil {
			t.Fatal("a file was sent")
		}
	}
	send = startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"send", src, "--room", "two", "--peer", ids[1], "--timeout", "90s", "--log-level", "debug"}, net...)...)
	if code := send.wait(ctx); code != 0 {
		t.Fatalf("send --peer exit %d:\n%s", code, send.output())
	}
	if _, err := os.Stat(filepath.Join(dirs[1], "x.bin")); err != nil {
		t.Fatalf("--peer %s did not get the file: %v", ids[1], err)
	}
}

// TestE2ESendErrors: a missing file and bad flags end `send` and `join` at once with a precise
// message: exit 1 for a missing file, 2 for usage errors.
func TestE2ESendErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "here.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	server := []string{"--server", "ws://127.0.0.1:1"} // never dialed: the checks come first
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing file", []string{"send", file, "/nonexistent/gone.bin", "--room", "r"}, exitFailure, "/nonexistent/gone.bin: no such file or directory"},
		{"special file", []string{"send", "/dev/null", "--room", "r"}, exitFailure, "neither a regular file nor a directory"},
		{"no paths", []string{"send", "--room", "r"}, exitUsage, "requires at least 1 arg"},
		{"no room", []string{"send", file}, exitUsage, "--room is required"},
		{"to and peer", []string{"send", file, "--room", "r", "--to", "0xD4be4442D6C200E665c6b08A2FEf88c925D1A557", "--peer", "ab"}, exitUsage, "--to or --peer, not both"},
		{"bad to", []string{"send", file, "--room", "r", "--to", "bob"}, exitUsage, `--to "bob" is not an address`},
		{"bad max size", []string{"join", "r", "--receive-dir", t.TempDir(), "--max-file-size", "lots"}, exitUsage, `--max-file-size: size "lots"`},
		{"max size without dir", []string{"join", "r", "--max-file-size", "1GiB"}, exitUsage, "need --receive-dir"},
		{"accept without dir", []string{"join", "r", "--accept-files"}, exitUsage, "need --receive-dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Its own deadline, from when it runs: parallel subtests wait for a free slot
			// (GOMAXPROCS of them at once) behind the package's other tests.
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			p := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append(tt.args, server...)...)
			code := p.wait(ctx)
			out := p.output()
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", code, tt.code, tt.want, out)
			}
		})
	}
}

// TestE2EChatSendFiles: /send in a join chat sends to the one connected peer, whose join
// takes it (--accept-files); chat goes on meanwhile. The path has a space in it, quoted as in a
// shell.
func TestE2EChatSendFiles(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	net := []string{"--server", url, "--ice-loopback"}
	dir := t.TempDir()
	recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "chat", "--json", "--receive-dir", dir, "--accept-files"}, net...)...)
	recv.waitEvent(ctx, "joined")
	chat := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, append([]string{"join", "chat", "--json"}, net...)...)
	chat.waitEvent(ctx, "peer-connected")
	src := filepath.Join(t.TempDir(), "holiday pics")
	makeTree(t, src, 3<<20)
	if _, err := io.WriteString(chat.stdin, "/send '"+src+"'\nstill chatting\n"); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	recv.waitLine(ctx, "the chat line and the last transfer-done", func(l string) bool {
		ev := decodeEvent(t, l)
		switch {
		case ev["type"] == "message" && ev["text"] == "still chatting":
			seen["message"] = true
		case ev["type"] == "transfer-done" && ev["last"] == true:
			seen["done"] = true
		}
		return seen["message"] && seen["done"]
	})
	chat.waitLine(ctx, "the sender's last transfer-done", func(l string) bool {
		ev := decodeEvent(t, l)
		return ev["type"] == "transfer-done" && ev["last"] == true && ev["incoming"] == false
	})
	sameFiles(t, src, dir)
}

// decodeEvent decodes one NDJSON line.
func decodeEvent(t *testing.T, l string) map[string]any {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal([]byte(l), &ev); err != nil {
		t.Fatalf("stdout line is not JSON: %q", l)
	}
	return ev
}
