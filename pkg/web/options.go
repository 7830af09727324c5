package web

import (
	"fmt"
	"io/fs"
	"log/slog"
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
	return nil
}
