package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// serveOptions are the flags of vtpeer serve.
type serveOptions struct {
	addr          string
	maxFrame      int64
	maxMembers    int
	maxRooms      int
	maxConnsPerIP int
	rate          float64
	burst         int
	allowOrigins  []string
	jwtSecretFile string
	jwtPublicKey  string
	jwtAudience   string
	tlsCert       string
	tlsKey        string
}

// newServeCmd runs the signaling server.
func newServeCmd(g *globals) *cobra.Command {
	o := &serveOptions{}
	addr := ":8080"
	if g.getenv != nil {
		if p := g.env("PORT", ""); p != "" {
			addr = ":" + p
		}
	}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the signaling server",
		Long: `Run the WebSocket signaling server that introduces peers. The existing
VeryTippers browser client connects to it unchanged at / (also served at /ws).
/healthz answers JSON, /metrics Prometheus metrics. SIGINT or SIGTERM shuts it
down gracefully: clients get a going-away close.`,
		Example: `  vtpeer serve
  PORT=9000 vtpeer serve --allow-origin app.verytippers.com
  vtpeer serve --addr :443 --tls-cert cert.pem --tls-key key.pem --jwt-secret-file secret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", addr, "listen address (default :8080, or :$PORT when PORT is set)")
	f.Int64Var(&o.maxFrame, "max-frame", signal.DefaultMaxFrame, "largest frame in bytes; larger ones close the connection with 1009")
	f.IntVar(&o.maxMembers, "max-members", 8, "members per room")
	f.IntVar(&o.maxRooms, "max-rooms", 10000, "rooms on the server")
	f.IntVar(&o.maxConnsPerIP, "max-conns-per-ip", 64, "concurrent connections per remote IP (negative: no cap)")
	f.Float64Var(&o.rate, "rate", 20, "frames per second per connection")
	f.IntVar(&o.burst, "burst", 40, "frames a connection may send in a burst")
	f.StringArrayVar(&o.allowOrigins, "allow-origin", nil, `browser origin host pattern to accept, e.g. app.example.com or "*" (repeatable)`)
	f.StringVar(&o.jwtSecretFile, "jwt-secret-file", "", "require HS256 tokens signed with the secret in this file")
	f.StringVar(&o.jwtPublicKey, "jwt-public-key", "", "require EdDSA/ES256 tokens verified with this PEM public key")
	f.StringVar(&o.jwtAudience, "jwt-audience", signal.DefaultAudience, "audience tokens must carry")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate (PEM) to serve wss://")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key (PEM)")
	return cmd
}

func runServe(ctx context.Context, g *globals, o *serveOptions) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageError(errors.New("--tls-cert and --tls-key go together"))
	}
	auth, err := o.verifier()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := signal.NewServer(&signal.ServerOptions{
		MaxFrame:      o.maxFrame,
		MaxMembers:    o.maxMembers,
		MaxRooms:      o.maxRooms,
		MaxConnsPerIP: o.maxConnsPerIP,
		Rate:          rate.Limit(o.rate),
		Burst:         o.burst,
		AllowOrigins:  o.allowOrigins,
		Auth:          auth,
		Logger:        log,
		Registry:      reg,
	})
	if err != nil {
		return usageError(err)
	}
	defer srv.Close()
	mux := http.NewServeMux()
	mux.Handle("/", srv)
	mux.Handle("/ws", srv)
	mux.Handle("/healthz", srv.HealthHandler())
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	log.Info("listening", "addr", ln.Addr().String(), "tls", o.tlsCert != "", "auth", auth != nil)
	errc := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			errc <- hs.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx) // stops accepting; WebSockets are hijacked and closed by srv.Close
	<-errc
	if cerr := srv.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// verifier builds the JWT verifier the flags ask for, or nil.
func (o *serveOptions) verifier() (*signal.Verifier, error) {
	switch {
	case o.jwtSecretFile != "" && o.jwtPublicKey != "":
		return nil, usageError(errors.New("--jwt-secret-file and --jwt-public-key are exclusive"))
	case o.jwtSecretFile != "":
		secret, err := readSecretFile(o.jwtSecretFile)
		if err != nil {
			return nil, err
		}
		v, err := signal.NewHS256Verifier(secret, o.jwtAudience)
		clear(secret)
		if err != nil {
			return nil, usageError(fmt.Errorf("--jwt-secret-file: %w", err))
		}
		return v, nil
	case o.jwtPublicKey != "":
		pemBytes, err := os.ReadFile(o.jwtPublicKey)
		if err != nil {
			return nil, usageError(fmt.Errorf("--jwt-public-key: %w", err))
		}
		v, err := signal.NewPublicKeyVerifier(pemBytes, o.jwtAudience)
		if err != nil {
			return nil, usageError(fmt.Errorf("--jwt-public-key: %w", err))
		}
		return v, nil
	}
	return nil, nil
}
