package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/ship"
)

// shipFlags are the flags of `palisade tail --to`.
type shipFlags struct {
	to, tokenFile, caFile string
	records, bytes        int
	wait                  time.Duration
}

func (f *shipFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.to, "to", "", "ship the records to this Palisade server (https://host:port) instead of stdout")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token (role ingest) for --to")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of the CA that signed the server's certificate (--to https)")
	fl.IntVar(&f.records, "batch-records", 5000, "most records per request (--to)")
	fl.IntVar(&f.bytes, "batch-bytes", 1<<20, "log-line bytes that fill a request (--to)")
	fl.DurationVar(&f.wait, "batch-wait", time.Second, "longest a record waits before it is sent (--to)")
}

func (f *shipFlags) shipper(ctx context.Context) (*ship.Shipper, error) {
	if f.tokenFile == "" {
		return nil, errors.New("--to needs --token-file (a token of role ingest: palisade token create --role ingest)")
	}
	b, err := os.ReadFile(f.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return nil, fmt.Errorf("--token-file %s: empty", f.tokenFile)
	}
	if f.records <= 0 || f.bytes <= 0 || f.wait <= 0 {
		return nil, errors.New("--batch-records, --batch-bytes and --batch-wait must be positive")
	}
	var tc *tls.Config
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificate", f.caFile)
		}
		tc = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return ship.New(ctx, ship.Options{URL: f.to, Token: tok, TLS: tc, Logger: log})
}

// shipstats prints what a shipper did when it stops.
type shipstats struct{ sh *ship.Shipper }

func (s *shipstats) print() {
	st := s.sh.Stats()
	fmt.Fprintf(os.Stderr, "palisade: shipped %d record(s) in %d request(s) (%d retried); server rejected %d, %d line(s) rejected locally\n",
		st.Accepted, st.Requests, st.Retries, st.Rejected, st.LocalDrops)
}
