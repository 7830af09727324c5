package signal

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// DefaultHandshakeTimeout is the default ClientOptions.HandshakeTimeout.
const DefaultHandshakeTimeout = 10 * time.Second

// DialFailure describes a failed connection attempt that the Client will
// retry (see ClientOptions.OnDialFailure).
type DialFailure struct {
	Attempt int           // 1 for the first failure of a series
	URL     string        // the server the attempt went to
	Err     error         // why the attempt failed
	Retry   time.Duration // wait before the next attempt
}

// ClientOptions configure a Client. A nil *ClientOptions, and every zero
// field, means the documented default.
type ClientOptions struct {
	// Token is sent in the join frame's token field when the server
	// requires authentication.
	Token string
	// Header is added to the WebSocket upgrade request.
	Header http.Header
	// PeerID is the peer id to ask for on the first join (8–64 characters
	// of [A-Za-z0-9_-]). Empty: the server assigns one. Either way the
	// client keeps the id across reconnects.
	PeerID string
	// Mailbox is this peer's mailbox id, sent on every join so that the
	// server hands over mail kept for it (see ServerOptions.Mail).
	Mailbox string
	// MinBackoff and MaxBackoff bound the delay between reconnection
	// attempts (defaults 100ms and 10s); each failure doubles the delay, and
	// a random jitter takes up to half of it off.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// HandshakeTimeout bounds each connection attempt: the TCP connection,
	// TLS and the WebSocket opening handshake (default
	// DefaultHandshakeTimeout). An attempt that runs out fails with an error
	// wrapping ErrDialTimeout that says how far it got.
	HandshakeTimeout time.Duration
	// Retry makes Dial retry a failed first connection, with the same
	// backoff as reconnections, until it succeeds, ctx ends, or the failure
	// is permanent (the server answered the upgrade with an HTTP 4xx status,
	// or its TLS certificate was refused). False: Dial makes one attempt.
	Retry bool
	// OnDialFailure, when set, is called after every failed connection
	// attempt that will be retried (the first connection with Retry, and
	// every reconnection) from the goroutine that dials. It must not block.
	OnDialFailure func(DialFailure)
	// MaxFrame is the largest frame accepted from the server (default
	// 2×DefaultMaxFrame, room for a relayed frame plus the fields the server adds).
	MaxFrame int64
	// Logger receives reconnection events. Nil: discard.
	Logger *slog.Logger
}

func (o *ClientOptions) withDefaults() ClientOptions {
	var v ClientOptions
	if o != nil {
		v = *o
	}
	if v.MinBackoff == 0 {
		v.MinBackoff = 100 * time.Millisecond
	}
	if v.MaxBackoff == 0 {
		v.MaxBackoff = 10 * time.Second
	}
	if v.HandshakeTimeout == 0 {
		v.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if v.MaxFrame == 0 {
		v.MaxFrame = 2 * DefaultMaxFrame
	}
	if v.Logger == nil {
		v.Logger = slog.New(slog.DiscardHandler)
	}
	return v
}

func (o *ClientOptions) validate() error {
	if o.PeerID != "" && !validPeerID(o.PeerID) {
		return fmt.Errorf("%w: PeerID must be 8-64 characters of [A-Za-z0-9_-]", ErrBadOptions)
	}
	if o.MinBackoff < 0 || o.MaxBackoff < o.MinBackoff || o.MaxFrame < 0 || o.HandshakeTimeout < 0 {
		return fmt.Errorf("%w: backoff bounds, HandshakeTimeout or MaxFrame", ErrBadOptions)
	}
	return nil
}

// Client is a signaling client. It keeps one WebSocket to the server,
// reconnects with exponential backoff and jitter when the connection drops,
// and re-joins its room with the same peer id and resume secret. Recv
// reports a lost link as a local TypeReconnecting frame and the re-join as
// a new TypeJoined frame. All methods are safe for concurrent use.
type Client struct {
	urls   []string
	opts   ClientOptions
	resume string
	in     chan Frame
	done   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	ws     *websocket.Conn // nil while reconnecting
	cur    int             // index in urls of the server in use, or tried last
	room   string
	peerID string
	closed bool

	recvMu  sync.Mutex
	pending []Frame
}

// Dial connects to the signaling server at url (ws:// or wss://). url may
// list the nodes of a cluster separated by commas ("ws://a:8080,ws://b:8080",
// see SplitURLs): Dial tries them in order, and after a lost connection the
// Client tries the next one after the server it lost, round the list, with
// the same peer id and resume secret. Each attempt is bounded by
// HandshakeTimeout. Without Retry Dial tries each server once and returns
// the last failure; with Retry it goes round the list again with backoff,
// reporting each failure (with its URL) to OnDialFailure, until it connects,
// the failure is permanent or ctx ends (the error then wraps ctx's cause and
// the last attempt's error).
func Dial(ctx context.Context, url string, opts *ClientOptions) (*Client, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	urls := SplitURLs(url)
	if len(urls) == 0 {
		return nil, fmt.Errorf("%w: no server URL", ErrBadOptions)
	}
	var secret [16]byte
	_, _ = rand.Read(secret[:])
	c := &Client{urls: urls, opts: o, resume: hex.EncodeToString(secret[:]), peerID: o.PeerID,
		in: make(chan Frame, 64), done: make(chan struct{})}
	ws, err := c.dialFirst(ctx)
	if err != nil {
		return nil, err
	}
	c.ws = ws
	life, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(1)
	go c.run(life, ws)
	return c, nil
}

// SplitURLs splits a comma-separated list of server URLs, dropping
// surrounding spaces and empty entries.
func SplitURLs(list string) []string {
	var out []string
	for u := range strings.SplitSeq(list, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// dialErr names the operation, and the server when the client has several.
func (c *Client) dialErr(url string, err error) error {
	if len(c.urls) > 1 {
		return fmt.Errorf("dial signal server %s: %w", url, err)
	}
	return fmt.Errorf("dial signal server: %w", err)
}

// dialFirst makes the first connection, retrying when opts.Retry says so.
// Within a round of the list the next server is tried at once; the backoff
// is waited after a whole round failed.
func (c *Client) dialFirst(ctx context.Context) (*websocket.Conn, error) {
	d := c.opts.MinBackoff
	var last error // the last attempt's error that ctx did not cause
	for attempt := 1; ; attempt++ {
		i := (attempt - 1) % len(c.urls)
		ws, permanent, raw := c.dial(ctx, c.urls[i])
		if raw == nil {
			c.cur = i
			return ws, nil
		}
		err := c.dialErr(c.urls[i], raw)
		if ctx.Err() == nil {
			last = raw
			if len(c.urls) > 1 {
				last = fmt.Errorf("%s: %w", c.urls[i], raw)
			}
		}
		roundDone := attempt%len(c.urls) == 0
		switch {
		case ctx.Err() != nil && last != nil:
			return nil, fmt.Errorf("dial signal server: %w after %d attempts; the last: %w", context.Cause(ctx), attempt, last)
		case permanent || ctx.Err() != nil || !c.opts.Retry && roundDone:
			return nil, err
		}
		var wait time.Duration
		if roundDone {
			wait = jitter(d)
			d = min(2*d, c.opts.MaxBackoff)
		}
		c.failed(attempt, c.urls[i], err, wait)
		if !sleep(ctx, wait) {
			return nil, fmt.Errorf("dial signal server: %w after %d attempts; the last: %w", context.Cause(ctx), attempt, last)
		}
	}
}

// errAttemptTimeout is the cause of an attempt's context that
// HandshakeTimeout ended.
var errAttemptTimeout = errors.New("attempt timed out")

// dial makes one connection attempt bounded by HandshakeTimeout. permanent
// reports a failure that retrying will not cure. The caller names the
// operation in the error.
func (c *Client) dial(ctx context.Context, url string) (_ *websocket.Conn, permanent bool, _ error) {
	var mu sync.Mutex
	var tcpUp, tlsUp bool
	trace := &httptrace.ClientTrace{
		ConnectDone: func(_, _ string, err error) {
			mu.Lock()
			tcpUp = tcpUp || err == nil
			mu.Unlock()
		},
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			mu.Lock()
			tlsUp = tlsUp || err == nil
			mu.Unlock()
		},
	}
	actx, cancel := context.WithTimeoutCause(httptrace.WithClientTrace(ctx, trace), c.opts.HandshakeTimeout, errAttemptTimeout)
	defer cancel() // coder/websocket does the same with http.Client.Timeout: the connection outlives it
	ws, resp, err := websocket.Dial(actx, url, &websocket.DialOptions{
		HTTPHeader:      c.opts.Header,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if ctx.Err() == nil && context.Cause(actx) == errAttemptTimeout {
			mu.Lock()
			defer mu.Unlock()
			d := c.opts.HandshakeTimeout
			switch {
			case !tcpUp:
				return nil, false, fmt.Errorf("no TCP connection to %s within %s: %w", url, d, ErrDialTimeout)
			case strings.HasPrefix(url, "wss:") && !tlsUp:
				return nil, false, fmt.Errorf("server at %s accepted TCP but did not finish the TLS handshake within %s: %w", url, d, ErrDialTimeout)
			default:
				return nil, false, fmt.Errorf("server at %s accepted TCP but did not answer the WebSocket handshake within %s: %w", url, d, ErrDialTimeout)
			}
		}
		var cv *tls.CertificateVerificationError
		permanent = errors.As(err, &cv) ||
			resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 &&
				resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout
		if op := (*net.OpError)(nil); errors.As(err, &op) {
			return nil, permanent, op // "dial tcp 127.0.0.1:8080: connect: connection refused", without the HTTP layers around it
		}
		return nil, permanent, err
	}
	ws.SetReadLimit(c.opts.MaxFrame)
	return ws, false, nil
}

// failed reports a failed attempt that will be retried after wait.
func (c *Client) failed(attempt int, url string, err error, wait time.Duration) {
	c.opts.Logger.Debug("signal dial failed", "attempt", attempt, "url", url, "err", err, "retry_in", wait)
	if c.opts.OnDialFailure != nil {
		c.opts.OnDialFailure(DialFailure{Attempt: attempt, URL: url, Err: err, Retry: wait})
	}
}

// jitter takes a random part of up to half of d off d.
func jitter(d time.Duration) time.Duration { return d/2 + mrand.N(d/2+1) }

// sleep waits for d; it reports false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Join enters room and returns the server's joined frame: the peer id,
// the peers already present and the ICE servers. An error frame in answer
// returns an error wrapping ErrJoinRefused and a *ServerError.
func (c *Client) Join(ctx context.Context, room string) (Frame, error) {
	c.mu.Lock()
	c.room = room
	c.mu.Unlock()
	if err := c.sendJoin(ctx); err != nil {
		return Frame{}, err
	}
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	var later []Frame
	defer func() { c.pending = append(later, c.pending...) }()
	for {
		f, err := c.next(ctx)
		if err != nil {
			return Frame{}, err
		}
		switch {
		case f.Type == TypeJoined && f.Room == room:
			return f, nil
		case f.Type == TypeError:
			return Frame{}, fmt.Errorf("%w: %w", ErrJoinRefused, &ServerError{Code: f.Code, Message: f.Error})
		default:
			later = append(later, f)
		}
	}
}

// PeerID returns the peer id the server gave this client ("" before the
// first join).
func (c *Client) PeerID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peerID
}

func (c *Client) sendJoin(ctx context.Context) error {
	c.mu.Lock()
	f := Frame{Type: TypeJoin, V: ProtocolVersion, Room: c.room, PeerID: c.peerID, Resume: c.resume, Mailbox: c.opts.Mailbox, Token: c.opts.Token}
	c.mu.Unlock()
	return c.write(ctx, f)
}

// Send sends f to the server, filling in Room with the joined room when it
// is empty. It returns ErrNotConnected while the client is reconnecting.
func (c *Client) Send(ctx context.Context, f Frame) error {
	if f.Room == "" {
		c.mu.Lock()
		f.Room = c.room
		c.mu.Unlock()
	}
	return c.write(ctx, f)
}

func (c *Client) write(ctx context.Context, f Frame) error {
	b, err := EncodeFrame(f)
	if err != nil {
		return err
	}
	c.mu.Lock()
	ws, closed := c.ws, c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if ws == nil {
		return ErrNotConnected
	}
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("send %s frame: %w", f.Type, err)
	}
	return nil
}

// Recv returns the next frame from the server, or a local TypeReconnecting
// frame. It returns ErrClosed after Close, and ctx's error when ctx is done.
func (c *Client) Recv(ctx context.Context) (Frame, error) {
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	if len(c.pending) > 0 {
		f := c.pending[0]
		c.pending = c.pending[1:]
		return f, nil
	}
	return c.next(ctx)
}

func (c *Client) next(ctx context.Context) (Frame, error) {
	select {
	case <-c.done:
		return Frame{}, ErrClosed
	default:
	}
	select {
	case f := <-c.in:
		return f, nil
	case <-c.done:
		return Frame{}, ErrClosed
	case <-ctx.Done():
		return Frame{}, fmt.Errorf("signal: receive: %w", ctx.Err())
	}
}

// Close closes the connection (1000) and stops reconnecting; it waits for
// the client's goroutine. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	ws := c.ws
	c.mu.Unlock()
	close(c.done)
	if ws != nil {
		_ = ws.Close(websocket.StatusNormalClosure, "")
	}
	c.cancel()
	c.wg.Wait()
	return nil
}

// run reads frames and reconnects until Close.
func (c *Client) run(ctx context.Context, ws *websocket.Conn) {
	defer c.wg.Done()
	for {
		err := c.readAll(ctx, ws)
		c.mu.Lock()
		c.ws = nil
		closed := c.closed
		c.mu.Unlock()
		_ = ws.CloseNow()
		if closed || ctx.Err() != nil {
			return
		}
		c.opts.Logger.Info("signal connection lost, reconnecting", "err", err)
		if !c.deliver(Frame{Type: TypeReconnecting, Error: err.Error()}) {
			return
		}
		if ws = c.reconnect(ctx); ws == nil {
			return
		}
	}
}

// readAll delivers frames from ws until it fails.
func (c *Client) readAll(ctx context.Context, ws *websocket.Conn) error {
	for {
		typ, b, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageText {
			continue
		}
		f, err := DecodeFrame(b)
		if err != nil {
			c.opts.Logger.Debug("ignoring bad frame from server", "err", err)
			continue
		}
		if f.Type == TypeError && f.Code == CodeUnavailable && len(c.urls) > 1 {
			// This node lost its cluster: another one takes the join.
			return fmt.Errorf("%w: %s", ErrUnavailable, f.Error)
		}
		if f.Type == TypeJoined && f.PeerID != "" {
			c.mu.Lock()
			c.peerID = f.PeerID
			c.mu.Unlock()
		}
		if !c.deliver(f) {
			return ErrClosed
		}
	}
}

func (c *Client) deliver(f Frame) bool {
	select {
	case c.in <- f:
		return true
	case <-c.done:
		return false
	}
}

// reconnect dials with backoff until it succeeds (and re-joins the room)
// or the client is closed, then returns nil. It starts with the server
// after the one it lost and goes round the list; the backoff doubles after
// each round that failed. Each failed attempt is reported to OnDialFailure.
func (c *Client) reconnect(ctx context.Context) *websocket.Conn {
	d := c.opts.MinBackoff
	wait := jitter(d)
	for attempt := 1; ; attempt++ {
		if !sleep(ctx, wait) {
			return nil
		}
		c.mu.Lock()
		c.cur = (c.cur + 1) % len(c.urls)
		url := c.urls[c.cur]
		c.mu.Unlock()
		ws, err := c.redial(ctx, url)
		if err == nil {
			return ws
		}
		if ctx.Err() != nil {
			return nil
		}
		wait = 0
		if attempt%len(c.urls) == 0 {
			d = min(2*d, c.opts.MaxBackoff)
			wait = jitter(d)
		}
		c.failed(attempt, url, err, wait)
	}
}

// redial makes one reconnection attempt to url and re-joins the room. It
// returns nil and no error when the client was closed meanwhile.
func (c *Client) redial(ctx context.Context, url string) (*websocket.Conn, error) {
	ws, _, err := c.dial(ctx, url)
	if err != nil {
		return nil, c.dialErr(url, err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = ws.CloseNow()
		return nil, nil
	}
	c.ws = ws
	joined := c.room != ""
	c.mu.Unlock()
	if !joined {
		return ws, nil
	}
	if err := c.sendJoin(ctx); err != nil {
		_ = ws.CloseNow()
		c.mu.Lock()
		c.ws = nil
		c.mu.Unlock()
		return nil, err
	}
	return ws, nil
}
