package web

import "errors"

// Sentinel errors returned by this package. Compare with errors.Is.
var (
	// ErrBadOptions is returned by NewHandler for invalid options.
	ErrBadOptions = errors.New("web: bad options")
	// ErrBadPath is returned by CleanPath for a request path that could
	// escape the served tree or names no file the handler serves.
	ErrBadPath = errors.New("web: bad path")
)
