package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/server"
	"github.com/palisade-sec/palisade/internal/sink"
	"github.com/palisade-sec/palisade/internal/store"
	"github.com/palisade-sec/palisade/internal/store/storeopen"
)

func init() {
	var configFile, dataDir, storeDSN, listen, tlsCert, tlsKey string
	var cf clusterFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Palisade server: REST API, durable ingestion, alerting (see docs/serve.md)",
		Long: `Runs the analysis pipeline as a service. Records are posted to
/api/v1/ingest (or OTLP traces to /api/v1/otlp/v1/traces), made durable in a
write-ahead log under --data, analyzed by one engine, and the inventory,
alerts and findings are served by the REST API (docs/api.md).

On first start an admin token is printed once on standard error; create more
with "palisade token create".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The cluster section of the file decides the mode before a
			// store is opened; the flags override it.
			base := cluster.DefaultConfig()
			if configFile != "" {
				b, err := os.ReadFile(configFile)
				if err != nil {
					return exitCode(2, fmt.Errorf("--config: %w", err))
				}
				fc, err := server.LoadConfig(server.NamedDoc{Name: configFile, Data: b})
				if err != nil {
					return exitCode(2, err)
				}
				base = fc.Cluster
			}
			ccfg, err := cf.config(base)
			if err != nil {
				return exitCode(2, err)
			}
			if ccfg.Enabled() {
				// The shared store: --store (or $PALISADE_STORE), else
				// server.store of the configuration file.
				if cf.store, err = storeSpec(storeDSN, configFile); err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
				return runClusterServe(ctx, log, cf, ccfg, configFile, dataDir, listen, tlsCert, tlsKey)
			}
			return runServe(cmd, configFile, dataDir, storeDSN, listen, tlsCert, tlsKey)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "configuration file (YAML or JSON)")
	f.StringVar(&dataDir, "data", defaultDataDir(), "data directory (database, write-ahead log, installation key; created on first start; default $PALISADE_DATA, else ./palisade-data)")
	f.StringVar(&storeDSN, "store", defaultStore(), storeFlagHelp)
	f.StringVar(&listen, "listen", "", "listen address (default server.listen, 127.0.0.1:8080)")
	f.StringVar(&tlsCert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&tlsKey, "tls-key", "", "TLS private key file (PEM)")
	f.StringVar(&cf.bus, "bus", "", "NATS servers of a clustered deployment, nats://HOST:PORT[,…] (docs/cluster.md); without it, a single node")
	f.StringVar(&cf.roles, "roles", "", "roles of this process with --bus: ingest,analyze,api (default all three)")
	f.StringArrayVar(&cf.options, "cluster", nil, "KEY=VALUE of the cluster section (partitions=8, replicas=3, checkpoint_interval=30s, …; docs/cluster.md)")
	root.AddCommand(cmd)
}

// serveConfig merges the configuration file and the document stored by PUT
// /api/v1/config.
func serveConfig(ctx context.Context, st store.Settings, configFile string) (server.Config, error) {
	var docs []server.NamedDoc
	if configFile != "" {
		b, err := os.ReadFile(configFile)
		if err != nil {
			return server.Config{}, fmt.Errorf("--config: %w", err)
		}
		docs = append(docs, server.NamedDoc{Name: configFile, Data: b})
	}
	v, err := st.Setting(ctx, server.ConfigOverrideKey)
	if errors.Is(err, store.ErrNotFound) {
		return server.LoadConfig(docs...)
	} else if err != nil {
		return server.Config{}, err
	}
	cfg, err := server.LoadConfig(append(docs, server.NamedDoc{Name: "stored configuration (PUT /api/v1/config)", Data: []byte(v)})...)
	if err == nil {
		return cfg, nil
	}
	// A stored document never prevents start-up: without it the
	// configuration may be valid (the --config file changed since).
	cfg, ferr := server.LoadConfig(docs...)
	if ferr != nil {
		return cfg, ferr
	}
	fmt.Fprintf(os.Stderr, "warning: stored configuration (PUT /api/v1/config) skipped: %v; fix it with PUT /api/v1/config\n", err)
	return cfg, nil
}

// engineConfig builds the pipeline configuration: the installation's
// identity key unless identity.key_file is set, plus uploaded specs; stored
// specs that do not load are skipped and returned (id → reason).
func engineConfig(ctx context.Context, st store.Specs, cfg server.Config, dataDir string) (engine.Config, map[string]string, error) {
	ec, err := cfg.EngineConfig()
	if err != nil {
		return ec, nil, err
	}
	key, err := server.LoadKey(dataDir)
	if err != nil {
		return ec, nil, err
	}
	if len(ec.Enrich.Identity.Key) == 0 || bytes.Equal(ec.Enrich.Identity.Key, identity.DefaultKey) {
		ec.Enrich.Identity.Key = server.IdentityKey(key)
	}
	specs, problems, err := server.StoredSpecs(ctx, st, filepath.Join(dataDir, "specs"))
	if err != nil {
		return ec, nil, err
	}
	ec.Specs = append(ec.Specs, specs...)
	return ec, problems, nil
}

// sinkStats adapts the dispatcher to the server's metrics.
type sinkStats struct{ *sink.Dispatcher }

func (s sinkStats) SinkFailures() map[string]int64 {
	out := map[string]int64{}
	for _, st := range s.Stats() {
		out[st.Name] = st.Failed + st.Dropped
	}
	return out
}

func runServe(cmd *cobra.Command, configFile, dataDir, storeDSN, listen, tlsCert, tlsKey string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	storeDSN, err := storeSpec(storeDSN, configFile)
	if err != nil {
		return err
	}
	st, err := createServeStore(ctx, dataDir, storeDSN)
	if err != nil {
		return exitCode(2, err)
	}
	defer st.Close()
	storeName := filepath.Join(dataDir, dbFile)
	if storeDSN != "" {
		storeName = storeopen.Redact(storeDSN)
		key, err := server.LoadKey(dataDir)
		if err != nil {
			return exitCode(2, err)
		}
		if err := checkKeyID(ctx, st, key, dataDir); err != nil {
			return exitCode(2, err)
		}
	}
	cfg, err := serveConfig(ctx, st, configFile)
	if err != nil {
		return exitCode(2, err)
	}
	cfg.Server.Store = storeDSN // what was opened (a stored document cannot move the store)
	if listen != "" {
		cfg.Server.Listen = listen
	}
	if tlsCert != "" || tlsKey != "" {
		cfg.Server.TLSCert, cfg.Server.TLSKey = tlsCert, tlsKey
	}
	if _, err := cfg.Parse(); err != nil {
		return exitCode(2, err)
	}
	ec, specProblems, err := engineConfig(ctx, st, cfg, dataDir)
	if err != nil {
		return exitCode(2, err)
	}
	for id, why := range specProblems {
		log.Warn("stored spec skipped: it does not load; fix it with POST /api/v1/specs or remove it with DELETE /api/v1/specs/"+id, "spec", id, "err", why)
	}
	ac := cfg.Activity // the attacker view's per-subject summary
	ec.Activity = &ac
	eng, err := engine.New(ec)
	if err != nil {
		return exitCode(2, err)
	}
	sinks, err := sink.FromConfig(cfg.Sinks)
	if err != nil {
		return exitCode(2, err)
	}
	var pub server.Publisher
	var disp *sink.Dispatcher
	if len(sinks) > 0 {
		disp = sink.NewDispatcher(sinks, sink.Options{OnDeadLetter: func(name string, alerts []model.Alert, err error) {
			log.Error("sink: alerts not delivered", "sink", name, "alerts", len(alerts), "err", err)
		}})
		pub = sinkStats{disp}
	}
	srv, err := server.New(server.Options{
		DataDir: dataDir, Config: cfg, Engine: eng, Store: st, Publisher: pub, Logger: log, Identity: ec.Enrich.Identity,
		IdleFlush: eng.ReorderWindow(), SpecProblems: specProblems,
	})
	if err != nil {
		return exitCode(2, err)
	}
	if cfg.Server.TLSCert != "" {
		// Serve would load them only once listening: fail before.
		if _, err := tls.LoadX509KeyPair(cfg.Server.TLSCert, cfg.Server.TLSKey); err != nil {
			srv.Close(context.Background())
			return exitCode(2, fmt.Errorf("tls: %w", err))
		}
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		srv.Close(context.Background())
		return exitCode(2, fmt.Errorf("listen %s: %w", cfg.Server.Listen, err))
	}
	if err := srv.Start(ctx); err != nil {
		ln.Close()
		srv.Close(context.Background())
		return err
	}
	// The bootstrap admin token is created and shown only once everything
	// that can fail at start has succeeded: a start that fails leaves no
	// token behind, and the next successful one creates and prints it.
	if tok, err := server.Bootstrap(ctx, st, time.Now()); err != nil {
		ln.Close()
		srv.Close(context.Background())
		return err
	} else if tok != "" {
		where := "--data " + dataDir
		if storeDSN != "" {
			where = "--store " + storeopen.Redact(storeDSN)
		}
		fmt.Fprintf(os.Stderr, "\nBootstrap admin token (shown once, store it now):\n\n    %s\n\nCreate more with: palisade token create %s --role viewer|analyst|admin|ingest\n\n", tok, where)
	}
	scheme := "http"
	if cfg.Server.TLSCert != "" {
		scheme = "https"
	}
	log.Info("listening", "url", scheme+"://"+ln.Addr().String(), "data", dataDir, "store", storeName)
	err = serveUntil(ctx, srv, ln, cfg, log)
	if disp != nil {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		disp.Close(dctx)
	}
	return err
}
