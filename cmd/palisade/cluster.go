package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/activity"
	"github.com/palisade-sec/palisade/internal/bus"
	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/server"
	"github.com/palisade-sec/palisade/internal/sink"
	"github.com/palisade-sec/palisade/internal/store/storeopen"
)

// clusterFlags are serve's flags of a clustered deployment.
type clusterFlags struct {
	bus, roles, store string
	options           []string // KEY=VALUE of the cluster section
}

// config applies the flags to the cluster section of the configuration
// file (c).
func (f *clusterFlags) config(c cluster.Config) (cluster.Config, error) {
	if f.bus != "" {
		c.Bus = splitList([]string{f.bus})
	}
	if f.roles != "" {
		c.Roles = splitList([]string{f.roles})
	}
	for _, o := range f.options {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return c, fmt.Errorf("--cluster %q: want KEY=VALUE", o)
		}
		if err := setClusterOption(&c, strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return c, fmt.Errorf("--cluster %s: %w", k, err)
		}
	}
	if len(c.Roles) > 0 && !c.Enabled() {
		return c, errors.New("--roles needs --bus: without a bus one process plays every role")
	}
	return c, c.Validate()
}

// setClusterOption sets the key (its yaml name) of the cluster section.
func setClusterOption(c *cluster.Config, key, val string) error {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("yaml") != key {
			continue
		}
		f := v.Field(i)
		switch f.Interface().(type) {
		case config.Duration:
			d, err := config.ParseDuration(val)
			if err != nil {
				return err
			}
			f.SetInt(int64(d))
		case int, int64:
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return err
			}
			f.SetInt(n)
		case string:
			f.SetString(val)
		case []string:
			f.Set(reflect.ValueOf(splitList([]string{val})))
		}
		return nil
	}
	return errors.New("unknown key (see docs/cluster.md)")
}

// clusterSecret returns the cluster secret the bus holds, creating it
// (from the file when there is one, else at random) when the bus has none,
// and writing it to file when file is named and does not exist.
// check vets a secret about to be created in an empty bus (the bus is left
// untouched when it fails).
func clusterSecret(ctx context.Context, b *bus.Bus, file string, check func([]byte) error) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	var have []byte
	if file != "" {
		k, err := os.ReadFile(file)
		switch {
		case err == nil && len(k) < 32:
			return nil, fmt.Errorf("cluster secret_file %s: %d bytes, want at least 32", file, len(k))
		case err == nil:
			have, fresh = k, k
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("cluster secret_file: %w", err)
		}
	}
	has, err := b.HasSecret(ctx)
	if err != nil {
		return nil, err
	}
	if !has {
		if err := check(fresh); err != nil {
			return nil, err
		}
	}
	key, err := b.Secret(ctx, fresh)
	if err != nil {
		return nil, err
	}
	switch {
	case file == "":
	case have == nil:
		if err := os.WriteFile(file, key, 0o600); err != nil {
			return nil, fmt.Errorf("cluster secret_file: %w", err)
		}
	case !bytes.Equal(have, key):
		return nil, fmt.Errorf("cluster secret_file %s differs from the secret the bus holds (KV bucket %s, key secret): "+
			"this file belongs to another cluster, or the bus to another deployment", file, b.ClusterBucket())
	}
	return key, nil
}

// runClusterServe is serve with --bus: the roles of this process over the
// event bus and the shared store.
func runClusterServe(ctx context.Context, log *slog.Logger, cf clusterFlags, ccfg cluster.Config, configFile, dataDir, listen, tlsCert, tlsKey string) error {
	if cf.store == "" {
		return exitCode(2, errors.New("--bus needs --store: the processes of a cluster share one store"))
	}
	st, err := storeopen.Open(ctx, cf.store, storeopen.Options{Create: true})
	if err != nil {
		return exitCode(2, fmt.Errorf("--store: %w", err))
	}
	defer st.Close()
	cfg, err := serveConfig(ctx, st, configFile)
	if err != nil {
		return exitCode(2, err)
	}
	if listen != "" {
		cfg.Server.Listen = listen
	}
	if tlsCert != "" || tlsKey != "" {
		cfg.Server.TLSCert, cfg.Server.TLSKey = tlsCert, tlsKey
	}
	if _, err := cfg.Parse(); err != nil {
		return exitCode(2, err)
	}
	roles := fmt.Sprint(ccfg.Roles)
	if len(ccfg.Roles) == 0 {
		roles = "[ingest analyze api]"
	}
	b, err := bus.Connect(ctx, bus.Options{URLs: ccfg.Bus, Name: "palisade " + roles, Prefix: ccfg.Prefix,
		CredsFile: ccfg.CredsFile, CAFile: ccfg.CAFile, CertFile: ccfg.CertFile, KeyFile: ccfg.KeyFile})
	if err != nil {
		return exitCode(2, err)
	}
	defer b.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = b.ProvisionWait(pctx, bus.Layout{Partitions: ccfg.Partitions, Replicas: ccfg.Replicas, MaxAge: ccfg.MaxAge.D(),
		MaxBytes: ccfg.MaxBytes, PinnedTTL: ccfg.PinnedTTL.D(), MemberTTL: ccfg.MemberTTL.D()},
		func(err error) { log.Warn("waiting for JetStream to provision the bus", "err", err) })
	cancel()
	if err != nil {
		return exitCode(2, err)
	}
	// One store, one key: a bus provisioned anew (its KV bucket lost, or
	// another cluster's) must not hold another secret than the one the
	// store's pseudonyms and tombstones were made with.
	keyCheck := func(write bool) func([]byte) error {
		return func(k []byte) error {
			return checkKeyIDFix(ctx, st, k, write, "the cluster secret in the bus (KV bucket "+b.ClusterBucket()+", key secret)",
				"start the cluster with the copy of its secret (--cluster secret_file=PATH, docs/cluster.md \"Backup\"), or point --store at this cluster's own store")
		}
	}
	key, err := clusterSecret(ctx, b, ccfg.SecretFile, keyCheck(false))
	if err != nil {
		return exitCode(2, err)
	}
	if err := keyCheck(true)(key); err != nil {
		return exitCode(2, err)
	}
	// The pipeline configuration: every worker must use the same, and
	// the identity key is the cluster's.
	ec, err := cfg.EngineConfig()
	if err != nil {
		return exitCode(2, err)
	}
	if len(ec.Enrich.Identity.Key) == 0 || bytes.Equal(ec.Enrich.Identity.Key, identity.DefaultKey) {
		ec.Enrich.Identity.Key = server.IdentityKey(key) // unless identity.key_file names one
	}
	specs, specProblems, err := server.StoredSpecs(ctx, st, filepath.Join(dataDir, "specs"))
	if err != nil {
		return exitCode(2, err)
	}
	ec.Specs = append(ec.Specs, specs...)
	ac := activity.DefaultConfig() // the attacker view's per-subject summary (population stage)
	ec.Activity = &ac

	var disp *sink.Dispatcher
	var pub cluster.Publisher
	if ccfg.Has(cluster.RoleAnalyze) {
		sinks, err := sink.FromConfig(cfg.Sinks)
		if err != nil {
			return exitCode(2, err)
		}
		if len(sinks) > 0 {
			disp = sink.NewDispatcher(sinks, sink.Options{OnDeadLetter: func(name string, alerts []model.Alert, err error) {
				log.Error("sink: alerts not delivered", "sink", name, "alerts", len(alerts), "err", err)
			}})
			pub = disp
			defer disp.Close(context.Background())
		}
	}
	in := cluster.NewIngest(b, ccfg.MaxLag, log)
	collectors := in.Collectors()
	wctx, cancelWork := context.WithCancel(ctx)
	defer cancelWork()
	go in.Run(wctx)
	workerDone := make(chan error, 1)
	if ccfg.Has(cluster.RoleAnalyze) {
		m := cluster.NewMerger(b, st, pub, log)
		m.TombstoneKeys = func(a *model.Alert) []string {
			var k []string
			if a.Client != nil && a.Client.IP != "" {
				k = append(k, server.IPTombstone(key, a.Client.IP))
			}
			if a.Identity != nil && a.Identity.ID != "" {
				k = append(k, server.IdentityTombstone(a.Identity.ID))
			}
			return k
		}
		m.SubjectTombstone = func(kind, id string) string {
			if kind == "identity" {
				return server.IdentityTombstone(id)
			}
			return server.IPTombstone(key, id)
		}
		w, err := cluster.NewWorker(b, ccfg, ec, m, log)
		if err != nil {
			return exitCode(2, err)
		}
		collectors = append(collectors, w.Collectors()...)
		go func() { workerDone <- w.Run(wctx) }()
	} else {
		close(workerDone)
	}

	srv, err := server.New(server.Options{
		DataDir: dataDir, Config: cfg, Store: st, Logger: log, Identity: ec.Enrich.Identity, SpecProblems: specProblems,
		Bus: in, Key: key, Metrics: collectors, Roles: server.Roles{Ingest: ccfg.Has(cluster.RoleIngest), API: ccfg.Has(cluster.RoleAPI)},
	})
	if err != nil {
		return exitCode(2, err)
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
	if ccfg.Has(cluster.RoleAPI) {
		if tok, err := server.Bootstrap(ctx, st, time.Now()); err != nil {
			ln.Close()
			srv.Close(context.Background())
			return err
		} else if tok != "" {
			fmt.Fprintf(os.Stderr, "\nBootstrap admin token (shown once, store it now):\n\n    %s\n\nCreate more with: palisade token create --store %s --role viewer|analyst|admin|ingest\n\n", tok, storeopen.Redact(cf.store))
		}
	}
	log.Info("listening", "url", "http://"+ln.Addr().String(), "roles", roles, "bus", strings.Join(ccfg.Bus, ","), "partitions", b.Partitions())
	err = serveUntil(ctx, srv, ln, cfg, log)
	cancelWork()
	werr := <-workerDone
	return errors.Join(err, werr)
}

// serveUntil serves the API on ln until ctx is done, then shuts down.
func serveUntil(ctx context.Context, srv *server.Server, ln net.Listener, cfg server.Config, log *slog.Logger) error {
	hs := srv.HTTPServer(slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	errc := make(chan error, 1)
	go func() {
		if cfg.Server.TLSCert != "" {
			errc <- hs.ServeTLS(ln, cfg.Server.TLSCert, cfg.Server.TLSKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			srv.Close(context.Background())
			return err
		}
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(hs.Shutdown(sctx), srv.Close(sctx))
}
