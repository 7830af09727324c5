package doctor

import "errors"

// ErrBadOptions is returned by Run for options that cannot work (a server
// URL that is not ws:// or wss://, a negative timeout).
var ErrBadOptions = errors.New("doctor: bad options")
