package doctor

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"time"
)

// DefaultTimeout bounds each network check (Options.Timeout).
const DefaultTimeout = 10 * time.Second

// Options configure Run. A nil *Options checks the machine only.
type Options struct {
	// Server is the signaling server's ws:// or wss:// URL. Empty: the server
	// and network checks are skipped.
	Server string
	// Token is sent on join to servers that require one.
	Token string
	// Room is the room the join-and-leave check uses (default: a fresh
	// random name); set it when the token is bound to a room.
	Room string
	// Home is VTPEER_HOME. Empty: the home and keystore checks are skipped.
	Home string
	// Keystore is the keystore directory (default Home/keystore).
	Keystore string
	// Account picks the keystore account to unlock (default: the only one).
	Account string
	// Password, when HavePassword, is tried on the account.
	Password     string
	HavePassword bool
	// Timeout bounds each network check (default DefaultTimeout).
	Timeout time.Duration
	// TLSConfig is used for wss:// and https:// (nil: the system roots).
	TLSConfig *tls.Config
	// Now is the clock compared with the server's (default time.Now).
	Now func() time.Time
	// Logger receives diagnostics (nil: discard). Never secrets.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.Timeout == 0 {
		v.Timeout = DefaultTimeout
	}
	if v.Now == nil {
		v.Now = time.Now
	}
	if v.Logger == nil {
		v.Logger = slog.New(slog.DiscardHandler)
	}
	return v
}

func (o *Options) validate() error {
	if o.Timeout < 0 {
		return fmt.Errorf("%w: negative timeout", ErrBadOptions)
	}
	if o.Server != "" {
		u, err := url.Parse(o.Server)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return fmt.Errorf("%w: server %q: want a ws:// or wss:// URL", ErrBadOptions, o.Server)
		}
	}
	return nil
}
