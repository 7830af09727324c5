package cluster

import "errors"

// Sentinel errors returned by this package. Compare with errors.Is; the
// errors of signal.Cluster methods wrap signal's sentinels instead.
var (
	// ErrBadOptions is returned by New and StartNode for invalid options.
	ErrBadOptions = errors.New("cluster: bad options")
	// ErrBadEnvelope is returned by decodeEnvelope for bytes that are not
	// a forwarded frame.
	ErrBadEnvelope = errors.New("cluster: bad envelope")
	// ErrNotReady is returned by StartNode when the embedded server does
	// not accept connections in time.
	ErrNotReady = errors.New("cluster: server not ready")
)
