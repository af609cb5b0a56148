package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/server"
	"github.com/palisade-sec/palisade/internal/store"
)

func init() {
	var dataDir, storeDSN, role, name string
	tok := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens of palisade serve (works while the server runs)",
	}
	create := &cobra.Command{
		Use:   "create --role ROLE [--name NAME]",
		Short: "Create a token and print it on standard output (only its SHA-256 is stored)",
		Long: `Roles: viewer (read), analyst (read + triage), admin (everything),
ingest (only POST /api/v1/ingest and OTLP). The running server sees the new
token at once. --data must be the data directory the server uses (it is
never created here), or --store the PostgreSQL store it uses.

Exit status: 0 created; 2 usage error, --data missing or not a Palisade
data directory, or --store unreachable; 1 the database could not be
written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !store.ValidRole(role) {
				return exitCode(2, fmt.Errorf("--role: unknown %q (viewer, analyst, admin, ingest)", role))
			}
			ctx := context.Background()
			st, where, err := openCLIStore(ctx, dataDir, storeDSN)
			if err != nil {
				return err
			}
			defer st.Close()
			secret, t, err := server.NewToken(role, name, time.Now())
			if err != nil {
				return err
			}
			if err := st.CreateToken(ctx, t); err != nil {
				return err
			}
			_ = st.Audit(ctx, store.AuditEntry{At: time.Now().UTC(), Actor: "cli", Action: "token.create", Target: t.ID, Detail: map[string]any{"role": role, "name": name}})
			fmt.Fprintf(os.Stderr, "created %s (role %s) in %s; the token is shown only now:\n", t.ID, role, where)
			fmt.Println(secret)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "", "viewer | analyst | admin | ingest")
	create.Flags().StringVar(&name, "name", "", "label, e.g. the team or the collector")
	create.MarkFlagRequired("role")
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (ids, roles, use; never the secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := context.Background()
			st, _, err := openCLIStore(ctx, dataDir, storeDSN)
			if err != nil {
				return err
			}
			defer st.Close()
			ts, err := st.ListTokens(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLE\tNAME\tCREATED\tLAST USED\tREVOKED")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, t.Name, t.CreatedAt.Format(time.RFC3339), ts2(t.LastUsed), ts2(t.RevokedAt))
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke a token (and its dashboard sessions) at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := context.Background()
			st, _, err := openCLIStore(ctx, dataDir, storeDSN)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.RevokeToken(ctx, args[0], time.Now()); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return exitCode(2, err)
				}
				return err
			}
			_ = st.Audit(ctx, store.AuditEntry{At: time.Now().UTC(), Actor: "cli", Action: "token.revoke", Target: args[0]})
			fmt.Fprintf(os.Stderr, "revoked %s\n", args[0])
			return nil
		},
	}
	for _, c := range []*cobra.Command{create, list, revoke} {
		c.Flags().StringVar(&dataDir, "data", defaultDataDir(), dataFlagHelp)
		c.Flags().StringVar(&storeDSN, "store", defaultStore(), storeFlagHelp)
		tok.AddCommand(c)
	}
	root.AddCommand(tok)
}

func ts2(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
