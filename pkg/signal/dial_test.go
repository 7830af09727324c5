package signal

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// silentListener accepts TCP connections on loopback and never answers
// them, like a wedged server or a port held by something else. It closes
// the connections at the end of the test.
func silentListener(t *testing.T) (url string, accepted <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 64)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "ws://" + ln.Addr().String() + "/", ch
}

// TestDialHandshakeTimeout: a server that accepts TCP and never answers
// the upgrade makes one attempt fail within HandshakeTimeout with an error
// that says so, instead of hanging until the caller's context ends.
func TestDialHandshakeTimeout(t *testing.T) {
	t.Parallel()
	url, accepted := silentListener(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, url, &ClientOptions{HandshakeTimeout: 300 * time.Millisecond})
	elapsed := time.Since(start)
	if !errors.Is(err, ErrDialTimeout) {
		t.Fatalf("err = %v, want ErrDialTimeout", err)
	}
	if ctx.Err() != nil || elapsed > 10*time.Second {
		t.Fatalf("Dial took %v (the caller's ctx: %v): the handshake bound did not apply", elapsed, ctx.Err())
	}
	want := "server at " + url + " accepted TCP but did not answer the WebSocket handshake within 300ms"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %q, want it to contain %q", err, want)
	}
	select {
	case <-accepted:
	default:
		t.Fatal("the listener saw no connection")
	}
}

// TestDialRetry: with Retry, Dial keeps trying a silent server with
// backoff, reports each failed attempt with its reason, and gives up when
// ctx ends with the ctx's cause and the last attempt's error.
func TestDialRetry(t *testing.T) {
	t.Parallel()
	url, _ := silentListener(t)
	giveUp := errors.New("test gave up")
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	failures := make(chan DialFailure, 64)
	errc := make(chan error, 1)
	go func() {
		_, err := Dial(ctx, url, &ClientOptions{HandshakeTimeout: 100 * time.Millisecond, Retry: true,
			MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
			OnDialFailure: func(f DialFailure) { failures <- f }})
		errc <- err
	}()
	deadline := time.After(30 * time.Second)
	for want := 1; want <= 2; want++ {
		select {
		case f := <-failures:
			if f.Attempt != want || !errors.Is(f.Err, ErrDialTimeout) || f.Retry <= 0 || f.Retry > 5*time.Millisecond {
				t.Fatalf("failure %d: %+v (%v)", want, f, f.Err)
			}
		case err := <-errc:
			t.Fatalf("Dial returned before retrying: %v", err)
		case <-deadline:
			t.Fatalf("no report of failed attempt %d", want)
		}
	}
	cancel(giveUp)
	select {
	case err := <-errc:
		if !errors.Is(err, giveUp) || !errors.Is(err, ErrDialTimeout) || !strings.Contains(err.Error(), "attempts") {
			t.Fatalf("err = %v, want the cause, the attempt count and the last attempt's error", err)
		}
	case <-deadline:
		t.Fatal("Dial did not return after ctx ended")
	}
}

// TestDialPermanentFailure: a server that answers the upgrade with a 4xx
// status is not retried, even with Retry.
func TestDialPermanentFailure(t *testing.T) {
	t.Parallel()
	hs := httptest.NewServer(http.NotFoundHandler())
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	ctx := testCtx(t)
	var calls int
	_, err := Dial(ctx, url, &ClientOptions{Retry: true, OnDialFailure: func(DialFailure) { calls++ }})
	if err == nil || !strings.Contains(err.Error(), "404") || calls != 0 || ctx.Err() != nil {
		t.Fatalf("err = %v after %d retries, want a 404 at once", err, calls)
	}
}

// TestReconnectReportsFailures: when the server goes away, each failed
// reconnection attempt is reported with its reason.
func TestReconnectReportsFailures(t *testing.T) {
	t.Parallel()
	s, err := NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	ctx := testCtx(t)
	failures := make(chan DialFailure, 64)
	c, err := Dial(ctx, url, &ClientOptions{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		OnDialFailure: func(f DialFailure) {
			select {
			case failures <- f:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Join(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	hs.CloseClientConnections()
	hs.Close()
	_ = s.Close()
	if f, err := c.Recv(ctx); err != nil || f.Type != TypeReconnecting {
		t.Fatalf("want reconnecting, got %+v %v", f, err)
	}
	for want := 1; want <= 2; want++ {
		select {
		case f := <-failures:
			if f.Attempt != want || f.Err == nil || !strings.Contains(f.Err.Error(), "dial signal server") {
				t.Fatalf("failure %d: %+v", want, f)
			}
		case <-ctx.Done():
			t.Fatalf("no report of failed reconnection %d", want)
		}
	}
}
