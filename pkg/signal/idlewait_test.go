package signal

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// wsUpgrade is a client's upgrade request for path /.
const wsUpgrade = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// maskedText is one masked client text frame carrying payload.
func maskedText(payload string) []byte {
	b := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	default:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	}
	key := [4]byte{7, 1, 9, 3}
	b = append(b, key[:]...)
	for i := range len(payload) {
		b = append(b, payload[i]^key[i%4])
	}
	return b
}

// tcpClient is a WebSocket client on a bare TCP connection: it writes
// exactly the bytes a test gives it (several frames in one write, frames
// with the upgrade request) and runs no goroutine of its own.
type tcpClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

// dialTCP connects to addr and writes the upgrade request followed by
// first (frames sent before the server answered) in one write.
func dialTCP(t *testing.T, addr string, first ...[]byte) *tcpClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	b := []byte(wsUpgrade)
	for _, f := range first {
		b = append(b, f...)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	tc := &tcpClient{t: t, c: c, br: bufio.NewReaderSize(c, 16)}
	resp, err := http.ReadResponse(tc.br, nil)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	return tc
}

func (tc *tcpClient) write(frames ...[]byte) {
	tc.t.Helper()
	var b []byte
	for _, f := range frames {
		b = append(b, f...)
	}
	if _, err := tc.c.Write(b); err != nil {
		tc.t.Fatal(err)
	}
}

// text reads one unmasked server text frame (the server's are short).
func (tc *tcpClient) text() string {
	tc.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(tc.br, h[:]); err != nil {
		tc.t.Fatalf("read frame: %v", err)
	}
	if h[0] != 0x81 {
		tc.t.Fatalf("frame header %#x, want a final text frame", h[0])
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var l [2]byte
		if _, err := io.ReadFull(tc.br, l[:]); err != nil {
			tc.t.Fatal(err)
		}
		n = int(l[0])<<8 | int(l[1])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(tc.br, p); err != nil {
		tc.t.Fatal(err)
	}
	return string(p)
}

func (tc *tcpClient) expectType(typ string) {
	tc.t.Helper()
	if f := tc.text(); !strings.Contains(f, `"type":"`+typ+`"`) {
		tc.t.Fatalf("got %s, want a %s frame", f, typ)
	}
}

// TestFramesBesideTheWait checks the cases where bytes wait where the idle
// wait's peek at the socket cannot see them (idlewait.go): frames sent in
// the same write as the upgrade request, and several frames in one write
// (all but the first end up in the read buffer). Each is answered at once.
func TestFramesBesideTheWait(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, nil)
	addr := strings.TrimPrefix(url, "ws://")
	join := maskedText(`{"type":"join","room":"r"}`)
	noRoom := maskedText(`{"type":"offer","data":1}`)

	with := dialTCP(t, addr, join, noRoom)
	with.expectType(TypeJoined)
	with.expectType(TypeError)

	batched := dialTCP(t, addr)
	batched.write(join, noRoom, noRoom)
	batched.expectType(TypeJoined)
	with.expectType(TypePeerJoined)
	batched.expectType(TypeError)
	batched.expectType(TypeError)

	// One frame split over two writes: the first part wakes the wait,
	// the rest comes while coder/websocket reads.
	split := maskedText(`{"type":"ice","room":"r","data":"` + strings.Repeat("x", 300) + `"}`)
	batched.write(split[:5])
	batched.write(split[5:])
	if f := with.text(); !strings.Contains(f, `"type":"ice"`) {
		t.Fatalf("got %s, want the ice frame", f)
	}
}

// TestIdleReaderStackShrinks checks that an idle client's reader waits with
// a stack the garbage collector can shrink: after the join grew it, it
// parks at the top of readLoop, not inside coder/websocket's frame reader,
// where 8 KiB stacks stayed 8 KiB (docs/BENCHMARKS.md, "Idle").
func TestIdleReaderStackShrinks(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector doubles the stack guard and grows frames: no shrink to measure")
	}
	// Not parallel: it reads the process's stack total.
	_, url := testServer(t, &ServerOptions{MaxConnsPerIP: -1, PingInterval: time.Hour})
	addr := strings.TrimPrefix(url, "ws://")
	ctx := testCtx(t)
	before := stackInuseAfterGC()
	g0 := runtime.NumGoroutine()
	const n = 400
	for i := range n {
		c := dialTCP(t, addr)
		// A join, as every client's first frame: it grows the reader's
		// stack to 8 KiB.
		c.write(maskedText(fmt.Sprintf(`{"type":"join","room":"r%d"}`, i)))
		c.expectType(TypeJoined)
	}
	// Wait until only the readers are left (each writer ends a few
	// milliseconds after its joined frame).
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > g0+n {
		select {
		case <-ctx.Done():
			t.Fatalf("%d goroutines, want %d", runtime.NumGoroutine(), g0+n)
		case <-tick.C:
		}
	}
	per := float64(stackInuseAfterGC()-before) / n / 1024
	t.Logf("stack per idle connection: %.2f KiB", per)
	if per > 6 {
		t.Errorf("stack per idle connection %.2f KiB, want ≤ 6 (4 KiB stacks; 8 KiB when the reader parks in coder/websocket)", per)
	}
}

// stackInuseAfterGC runs the garbage collector (which shrinks stacks, by
// half at most per cycle) until the goroutine stacks stop shrinking and
// returns their total.
func stackInuseAfterGC() uint64 {
	var ms runtime.MemStats
	last := ^uint64(0)
	for range 5 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		if ms.StackInuse >= last {
			break
		}
		last = ms.StackInuse
	}
	return ms.StackInuse
}
