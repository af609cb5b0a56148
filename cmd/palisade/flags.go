package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/server"
)

// pipelineFlags are shared by the commands that run the pipeline.
type pipelineFlags struct {
	configFile  string
	internal    []string
	trusted     []string
	pins        []string
	ignore      []string
	identityKey string
}

func (p *pipelineFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&p.configFile, "config", "", "pipeline configuration file (YAML or JSON; see docs/configuration.md)")
	fl.StringArrayVar(&p.internal, "internal", nil, "CIDR of internal clients (repeatable; replaces the default private ranges)")
	fl.StringArrayVar(&p.trusted, "trusted-proxy", nil, "CIDR of proxies whose X-Forwarded-For is trusted (repeatable)")
	fl.StringArrayVar(&p.pins, "pin", nil, `pinned path template, e.g. "/v2/users/{userId}" or "host /path/{id}" (repeatable)`)
	fl.StringArrayVar(&p.ignore, "ignore", nil, `path glob never inventoried, e.g. "/healthz" or "/static/**" (repeatable)`)
	fl.StringVar(&p.identityKey, "identity-key-file", "", "file holding the key for pseudonymous identity hashes (default: a fixed key, so reports are reproducible)")
}

func (p *pipelineFlags) config() (engine.Config, error) {
	cfg := engine.DefaultConfig()
	if p.configFile != "" {
		// The one configuration file: its pipeline keys (the serve
		// sections are checked too, and used by serve only).
		b, err := os.ReadFile(p.configFile)
		if err != nil {
			return cfg, fmt.Errorf("--config: %w", err)
		}
		fc, err := server.LoadConfig(server.NamedDoc{Name: p.configFile, Data: b})
		if err != nil {
			return cfg, err
		}
		if cfg, err = fc.EngineConfig(); err != nil {
			return cfg, err
		}
	}
	if len(p.internal) > 0 {
		ps, err := enrich.ParsePrefixes(p.internal)
		if err != nil {
			return cfg, err
		}
		cfg.Enrich.Internal = ps
	}
	if len(p.trusted) > 0 {
		ps, err := enrich.ParsePrefixes(p.trusted)
		if err != nil {
			return cfg, err
		}
		cfg.Enrich.TrustedProxies = ps
	}
	cfg.Inventory.Pinned = append(cfg.Inventory.Pinned, p.pins...)
	cfg.Inventory.Ignore = append(cfg.Inventory.Ignore, p.ignore...)
	if p.identityKey != "" {
		k, err := os.ReadFile(p.identityKey)
		if err != nil {
			return cfg, err
		}
		cfg.Enrich.Identity.Key = k
	}
	return cfg, nil
}
