package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/server"
	"github.com/palisade-sec/palisade/internal/server/wal"
	"github.com/palisade-sec/palisade/internal/store"
)

func init() {
	var dataDir, storeDSN, configFile, ip, id string
	cmd := &cobra.Command{
		Use:   "erase --data DIR [--store URL] (--ip IP | --identity ID)",
		Short: "Erase everything stored about a client IP or an identity (server stopped; else use POST /api/v1/erase)",
		Long: `Deletes the alerts about the subject, removes samples naming the IP from
other alerts, overwrites its raw records in the write-ahead log, and leaves a
tombstone (a keyed hash) so the subject is not written back. The server must
be stopped (the log is locked while it runs); with a running server use
POST /api/v1/erase. Prints what was removed as JSON.

With --store (or server.store in the --config file), --data is still the
server's data directory: its installation key makes the tombstone, its log
holds the raw records. On PostgreSQL the tables that held the erased rows
are rewritten (VACUUM FULL): see docs/store.md for what PostgreSQL keeps
elsewhere (WAL, replicas, backups).

Exit status: 0 erased; 2 usage error, --data missing or not a Palisade
data directory, or --store unreachable or written with another key; 1 the
log is locked by a running server (use the API) or the erasure failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (ip == "") == (id == "") {
				return exitCode(2, fmt.Errorf("give exactly one of --ip or --identity"))
			}
			ctx := context.Background()
			storeDSN, err := storeSpec(storeDSN, configFile)
			if err != nil {
				return err
			}
			marker := dbFile
			if storeDSN != "" {
				marker = keyFile
			}
			if err := checkDataDir(dataDir, marker); err != nil {
				return exitCode(2, err)
			}
			w, _, err := wal.Open(filepath.Join(dataDir, "wal"), wal.Options{})
			if err != nil {
				return exitCode(1, fmt.Errorf("%w; with a running server use POST /api/v1/erase", err))
			}
			defer w.Close()
			st, _, err := openCLIStore(ctx, dataDir, storeDSN)
			if err != nil {
				return err
			}
			defer st.Close()
			if storeDSN != "" {
				key, err := server.LoadKey(dataDir)
				if err != nil {
					return err
				}
				if err := checkKeyID(ctx, st, key, dataDir); err != nil {
					return exitCode(2, err)
				}
			}
			cfg, err := serveConfig(ctx, st, configFile)
			if err != nil {
				return exitCode(2, err)
			}
			ec, _, err := engineConfig(ctx, st, cfg, dataDir)
			if err != nil {
				return exitCode(2, err)
			}
			key, err := server.LoadKey(dataDir)
			if err != nil {
				return err
			}
			res, err := server.Erase(ctx, st, w, key, ec.Enrich.Identity, server.EraseRequest{IP: ip, Identity: id}, time.Now().UTC())
			if err != nil {
				return exitCode(2, err)
			}
			target := "identity " + id
			if ip != "" {
				target = "ip " + server.Pseudonym(key, ip)
			}
			_ = st.Audit(ctx, storeAudit("erase", target, res))
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", defaultDataDir(), dataFlagHelp)
	f.StringVar(&storeDSN, "store", defaultStore(), storeFlagHelp)
	f.StringVar(&configFile, "config", "", "configuration file (for identity.key_file and server.store)")
	f.StringVar(&ip, "ip", "", "client IP address to erase")
	f.StringVar(&id, "identity", "", "pseudonymous identity id (id_…) to erase")
	root.AddCommand(cmd)
}

func storeAudit(action, target string, res any) store.AuditEntry {
	b, _ := json.Marshal(res)
	var detail map[string]any
	_ = json.Unmarshal(b, &detail)
	return store.AuditEntry{At: time.Now().UTC(), Actor: "cli", Action: action, Target: target, Detail: detail}
}
