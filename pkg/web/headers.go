package web

import (
	"net/http"
	"path"
	"strings"
)

// contentType is the MIME type a file is served with, by extension. The
// list is fixed (not the system's mime tables) so a module script is
// text/javascript on every machine; unknown types are octet-stream, which
// nosniff keeps from being run.
func contentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json", ".map":
		return "application/json"
	case ".webmanifest":
		return "application/manifest+json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".woff2":
		return "font/woff2"
	case ".txt", ".md":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// cspHost returns the request's Host for use in the CSP, or false when it
// has a character that could break out of the header's grammar (only
// letters, digits, ".", "-", "_", ":" and IPv6 brackets are kept).
func cspHost(host string) (string, bool) {
	if host == "" || len(host) > 255 {
		return "", false
	}
	for _, c := range []byte(host) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']':
		default:
			return "", false
		}
	}
	return host, true
}

// CSP is the Content-Security-Policy for a page served to host: scripts,
// styles, fonts and images only from this server (no inline script or
// style, no eval), connections only to this server over HTTP(S) and to its
// ws:// and wss:// URLs ('self' does not cover WebSocket schemes in every
// browser), and, from a Handler, to the origins of Options.SignalURLs; no
// plugins, no framing, no <base> change.
func CSP(host string) string { return csp(host, "") }

// csp is CSP with more connect-src sources (each after a space: the
// origins of Options.SignalURLs).
func csp(host, connect string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
		"connect-src 'self' ws://" + host + " wss://" + host + connect + "; manifest-src 'self'; " +
		"base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
}

func setSecurityHeaders(h http.Header, host, connect string) {
	h.Set("Content-Security-Policy", csp(host, connect))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}
