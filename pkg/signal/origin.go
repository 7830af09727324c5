package signal

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// originPolicy decides which browser Origins may open a WebSocket.
//
// With no patterns every Origin is accepted, as the original VeryTippers
// signaling server does: the server keeps no cookies or other ambient
// credentials a foreign page could ride on (a token, when required, travels
// in the URL or an Authorization header the page must hold itself), so a
// cross-origin page gains nothing a native client would not have. With
// patterns, an Origin is accepted when its host is the request's own host
// or matches one of them (path.Match syntax, compared with the Origin's
// host, or with the whole Origin when the pattern contains "://"). Requests
// without an Origin header come from native clients and are accepted.
type originPolicy struct {
	patterns []string
	logEvery *rate.Limiter // refusal log lines, so a flood cannot flood the log
}

func newOriginPolicy(patterns []string) *originPolicy {
	return &originPolicy{patterns: patterns, logEvery: rate.NewLimiter(rate.Every(time.Second), 10)}
}

// allowed reports whether r's Origin may connect.
func (p *originPolicy) allowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(p.patterns) == 0 {
		return true
	}
	u, err := url.Parse(origin)
	if err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, pat := range p.patterns {
		if pat == origin {
			return true // also "null", for file:// pages and sandboxed frames
		}
		target := origin
		if !strings.Contains(pat, "://") {
			if err != nil || u.Host == "" {
				continue // an opaque origin has no host to match
			}
			target = u.Host
		}
		if ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// hint is the flag that would let origin in.
func originHint(origin string) string {
	if u, err := url.Parse(origin); err == nil && u.Host != "" {
		return "--allow-origin " + u.Host
	}
	return "--allow-origin " + origin
}
