package web

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
)

// DefaultSignalPath is where the page opens its signaling WebSocket unless
// Options.SignalPath says otherwise: the same server, path /ws.
const DefaultSignalPath = "/ws"

// Options configure a Handler. A nil *Options, and every zero field, means
// the documented default.
type Options struct {
	// Logger receives refused requests at debug level, never request
	// bodies. Nil: discard.
	Logger *slog.Logger
	// SignalPath is the absolute URL path of the signaling WebSocket on
	// this server, told to the page in /config.json. Default
	// DefaultSignalPath ("/ws").
	SignalPath string
	// SignalURLs are the ws:// or wss:// URLs of the signaling servers the
	// page connects to, in order, moving on to the next when its connection
	// is lost (the nodes of a cluster; docs/PROTOCOL.md "Client failover").
	// They are told to the page in /config.json and their origins added to
	// the CSP's connect-src. Empty (the default): this server's SignalPath.
	SignalURLs []string
	// Files is the tree to serve. Nil: the embedded static/ directory.
	// Tests use it to serve a tree of their own.
	Files fs.FS
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.Logger == nil {
		v.Logger = slog.New(slog.DiscardHandler)
	}
	if v.SignalPath == "" {
		v.SignalPath = DefaultSignalPath
	}
	return v
}

func (o *Options) validate() error {
	if !strings.HasPrefix(o.SignalPath, "/") || strings.ContainsAny(o.SignalPath, "?#\\ \"'<>") {
		return fmt.Errorf("%w: SignalPath %q must be an absolute path without query, fragment or quotes", ErrBadOptions, o.SignalPath)
	}
	for _, s := range o.SignalURLs {
		if _, err := signalOrigin(s); err != nil {
			return err
		}
	}
	return nil
}

// signalOrigin checks a SignalURLs entry and returns its scheme://host for
// the CSP.
func signalOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		strings.ContainsAny(s, ",;'\" \t\r\n<>\\") {
		return "", fmt.Errorf("%w: signal URL %q: want ws:// or wss://HOST[:PORT]/PATH, no query, fragment, comma or quotes", ErrBadOptions, s)
	}
	host, ok := cspHost(u.Host)
	if !ok || host != u.Host {
		return "", fmt.Errorf("%w: signal URL %q: bad host", ErrBadOptions, s)
	}
	return u.Scheme + "://" + host, nil
}
