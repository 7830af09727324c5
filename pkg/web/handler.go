package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// embedded is the page: everything under static/. "all:" keeps names that
// start with "_" (the vendored @noble/hashes imports ./_u64.js); names that
// start with "." are skipped when the tree is read.
//
//go:embed all:static
var embedded embed.FS

// ConfigPath is the URL path of the generated page configuration; a file of
// that name under static/ is shadowed by it.
const ConfigPath = "/config.json"

// Handler serves the embedded page. It is safe for concurrent use and
// holds every file in memory (the tree is small).
type Handler struct {
	log     *slog.Logger
	logRate *rate.Limiter
	files   map[string]*file // by URL path, "/js/app.js"
	version string
	connect string // Options.SignalURLs' origins for the CSP's connect-src, each after a space
}

// file is one servable response body.
type file struct {
	name  string // for ServeContent
	body  []byte
	ctype string
	etag  string // strong, quoted
}

// NewHandler returns a Handler for opts (nil: defaults). It reads the whole
// tree once; the tree must have an index.html at its root.
func NewHandler(opts *Options) (*Handler, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	tree := o.Files
	if tree == nil {
		sub, err := fs.Sub(embedded, "static")
		if err != nil {
			return nil, fmt.Errorf("web: open embedded tree: %w", err)
		}
		tree = sub
	}
	h := &Handler{
		log:     o.Logger,
		logRate: rate.NewLimiter(rate.Every(time.Second), 10),
		files:   make(map[string]*file),
	}
	for _, u := range o.SignalURLs {
		origin, _ := signalOrigin(u) // checked by validate
		h.connect += " " + origin
	}
	sum := sha256.New()
	err := fs.WalkDir(tree, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != "." {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(tree, p)
		if err != nil {
			return err
		}
		h.files["/"+p] = newFile(p, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: read tree: %w", err)
	}
	if h.files["/index.html"] == nil {
		return nil, fmt.Errorf("%w: the tree has no index.html", ErrBadOptions)
	}
	names := make([]string, 0, len(h.files))
	for n := range h.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(sum, "%d:%s %s\n", len(n), n, h.files[n].etag)
	}
	h.version = hex.EncodeToString(sum.Sum(nil))[:16]
	cfg, err := json.Marshal(struct {
		SignalPath string `json:"signalPath"`
		Signal     string `json:"signal,omitempty"`
		Version    string `json:"version"`
	}{o.SignalPath, strings.Join(o.SignalURLs, ","), h.version})
	if err != nil {
		return nil, fmt.Errorf("web: encode config: %w", err)
	}
	h.files[ConfigPath] = newFile("config.json", cfg)
	return h, nil
}

func newFile(name string, b []byte) *file {
	sum := sha256.Sum256(b)
	return &file{name: name, body: b, ctype: contentType(name), etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// Version identifies the served tree: the first 16 hex digits of a SHA-256
// over every file's name and content. It changes whenever a file does.
func (h *Handler) Version() string { return h.version }

// Size is the total number of bytes of the files with the given extension
// (".js"), so a test can hold the page to its budget.
func (h *Handler) Size(ext string) int {
	n := 0
	for p, f := range h.files {
		if p != ConfigPath && path.Ext(p) == ext {
			n += len(f.body)
		}
	}
	return n
}

// ServeHTTP answers GET and HEAD for the page and its files. Every response,
// errors included, carries the security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, ok := cspHost(r.Host)
	if !ok {
		h.refuse(w, r, http.StatusBadRequest, "bad host")
		return
	}
	setSecurityHeaders(w.Header(), host, h.connect)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.refuse(w, r, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	p, err := CleanPath(r.URL.Path, r.URL.RawPath)
	if err != nil {
		h.refuse(w, r, http.StatusBadRequest, "bad path")
		return
	}
	switch p {
	case "/", "/p2p":
		p = "/index.html"
	}
	f := h.files[p]
	if f == nil {
		h.refuse(w, r, http.StatusNotFound, "not found")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("ETag", f.etag)
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, why string) {
	if h.logRate.Allow() {
		h.log.Debug("web request refused", "status", status, "why", why, "method", r.Method, "path", r.URL.EscapedPath())
	}
	http.Error(w, http.StatusText(status), status)
}

// CleanPath checks a request's URL path (decoded) and raw path (as sent,
// empty when it needs no escaping) and returns the path to look up. It
// refuses (ErrBadPath) anything that is not a plain absolute path: dot
// segments ("/../", "/./", also written %2e%2e), empty segments, a
// backslash, a NUL or other control character, or an encoded "/" or "\"
// (%2f, %5c). A trailing "/" is kept: no file has such a name, so a
// directory is never listed.
func CleanPath(p, raw string) (string, error) {
	if p == "" || p[0] != '/' || len(p) > 1024 {
		return "", fmt.Errorf("%w: %q", ErrBadPath, p)
	}
	lr := strings.ToLower(raw)
	if strings.Contains(lr, "%2f") || strings.Contains(lr, "%5c") {
		return "", fmt.Errorf("%w: encoded separator", ErrBadPath)
	}
	for _, c := range []byte(p) {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "", fmt.Errorf("%w: control character or backslash", ErrBadPath)
		}
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		switch {
		case s == "." || s == "..":
			return "", fmt.Errorf("%w: dot segment", ErrBadPath)
		case s == "" && i != len(segs)-1:
			return "", fmt.Errorf("%w: empty segment", ErrBadPath)
		}
	}
	return p, nil
}
