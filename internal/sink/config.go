package sink

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config describes one sink in the configuration file (list "sinks").
// Secrets can be given inline or, better, by environment variable name
// (secret_env, token_env).
type Config struct {
	Type string `json:"type" koanf:"type" yaml:"type"` // webhook | syslog | splunk_hec | ocsf
	Name string `json:"name,omitempty" koanf:"name" yaml:"name,omitempty"`

	Filter `koanf:",squash" yaml:",inline"`

	// HTTP sinks (webhook, splunk_hec, ocsf with url).
	URL     string            `json:"url,omitempty" koanf:"url" yaml:"url,omitempty"`
	Headers map[string]string `json:"headers,omitempty" koanf:"headers" yaml:"headers,omitempty"`
	Timeout string            `json:"timeout,omitempty" koanf:"timeout" yaml:"timeout,omitempty"` // e.g. "10s"

	// webhook: HMAC-SHA256 shared secret.
	Secret    string `json:"secret,omitempty" koanf:"secret" yaml:"secret,omitempty"`
	SecretEnv string `json:"secret_env,omitempty" koanf:"secret_env" yaml:"secret_env,omitempty"`

	// splunk_hec.
	Token    string `json:"token,omitempty" koanf:"token" yaml:"token,omitempty"`
	TokenEnv string `json:"token_env,omitempty" koanf:"token_env" yaml:"token_env,omitempty"`
	Index    string `json:"index,omitempty" koanf:"index" yaml:"index,omitempty"`
	Host     string `json:"host,omitempty" koanf:"host" yaml:"host,omitempty"`

	// syslog.
	Network  string `json:"network,omitempty" koanf:"network" yaml:"network,omitempty"` // udp | tcp | tls
	Address  string `json:"address,omitempty" koanf:"address" yaml:"address,omitempty"` // host:port
	Facility string `json:"facility,omitempty" koanf:"facility" yaml:"facility,omitempty"`
	Hostname string `json:"hostname,omitempty" koanf:"hostname" yaml:"hostname,omitempty"`
	// TLS (syslog network tls, and https URLs).
	CAFile             string `json:"ca_file,omitempty" koanf:"ca_file" yaml:"ca_file,omitempty"`
	ServerName         string `json:"server_name,omitempty" koanf:"server_name" yaml:"server_name,omitempty"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty" koanf:"insecure_skip_verify" yaml:"insecure_skip_verify,omitempty"`

	// ocsf: a file (rotated by size) or url.
	Path          string `json:"path,omitempty" koanf:"path" yaml:"path,omitempty"`
	MaxBytes      int64  `json:"max_bytes,omitempty" koanf:"max_bytes" yaml:"max_bytes,omitempty"`
	MaxFiles      int    `json:"max_files,omitempty" koanf:"max_files" yaml:"max_files,omitempty"`
	APIActivity   bool   `json:"api_activity,omitempty" koanf:"api_activity" yaml:"api_activity,omitempty"`
	CloudProvider string `json:"cloud_provider,omitempty" koanf:"cloud_provider" yaml:"cloud_provider,omitempty"`
}

// Version is written into CEF headers and OCSF metadata; the CLI sets it
// from the build version.
var Version = "dev"

// FromConfig builds the sinks. Errors name the sink ("sinks[1] (siem):
// url: …"); all problems are reported, not just the first.
func FromConfig(cfg []Config) ([]Configured, error) {
	var out []Configured
	var errs []string
	names := map[string]int{}
	for i, c := range cfg {
		label := fmt.Sprintf("sinks[%d]", i)
		if c.Name != "" {
			label += " (" + c.Name + ")"
		}
		if c.Name == "" {
			c.Name = fmt.Sprintf("%s-%d", c.Type, i)
		}
		if j, dup := names[c.Name]; dup {
			errs = append(errs, fmt.Sprintf("%s: name: %q already used by sinks[%d]", label, c.Name, j))
			continue
		}
		names[c.Name] = i
		s, err := build(c)
		if err == nil {
			err = c.Filter.Validate()
		}
		if err != nil {
			errs = append(errs, label+": "+err.Error())
			continue
		}
		out = append(out, Configured{Sink: s, Filter: c.Filter})
	}
	if len(errs) > 0 {
		for _, c := range out {
			if cl, ok := c.Sink.(interface{ Close() error }); ok {
				cl.Close()
			}
		}
		return nil, fmt.Errorf("sink configuration: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

func build(c Config) (Sink, error) {
	timeout := 10 * time.Second
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("timeout: want a positive duration like \"10s\", got %q", c.Timeout)
		}
		timeout = d
	}
	tlsConf, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsConf, MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second,
	}}
	header := http.Header{}
	for k, v := range c.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("headers: invalid header %q", clip(k, 40))
		}
		header.Set(k, v)
	}
	switch c.Type {
	case "webhook":
		if err := httpURL(c.URL); err != nil {
			return nil, err
		}
		secret, err := secretValue("secret", c.Secret, c.SecretEnv)
		if err != nil {
			return nil, err
		}
		if secret == "" {
			return nil, fmt.Errorf("secret: required (or secret_env): receivers must be able to verify %s", HeaderSignature)
		}
		return NewWebhook(c.Name, c.URL, []byte(secret), header, client), nil
	case "splunk_hec":
		if err := httpURL(c.URL); err != nil {
			return nil, err
		}
		tok, err := secretValue("token", c.Token, c.TokenEnv)
		if err != nil {
			return nil, err
		}
		if tok == "" {
			return nil, fmt.Errorf("token: required (or token_env)")
		}
		return NewSplunkHEC(c.Name, c.URL, tok, c.Index, c.Host, "palisade", client), nil
	case "syslog":
		if c.Network == "" {
			c.Network = "udp"
		}
		if _, port, err := net.SplitHostPort(c.Address); err != nil || port == "" {
			return nil, fmt.Errorf("address: want host:port, got %q", c.Address)
		} else if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("address: bad port %q", port)
		}
		var tc *tls.Config
		if c.Network == "tls" {
			tc = tlsConf
			if tc == nil {
				tc = &tls.Config{MinVersion: tls.VersionTLS12}
			}
		}
		hn := c.Hostname
		if hn == "" {
			hn, _ = os.Hostname()
		}
		s, err := NewSyslog(c.Name, SyslogOptions{Network: c.Network, Address: c.Address, TLS: tc,
			Facility: c.Facility, Hostname: hn, Version: Version, Timeout: timeout})
		if err != nil {
			return nil, err
		}
		return s, nil
	case "ocsf":
		opts := OCSFOptions{ProductVersion: Version, APIActivity: c.APIActivity, CloudProvider: c.CloudProvider}
		switch {
		case c.Path != "" && c.URL != "":
			return nil, fmt.Errorf("path and url: give one, not both")
		case c.URL != "":
			if err := httpURL(c.URL); err != nil {
				return nil, err
			}
			return NewOCSFHTTP(c.Name, c.URL, header, opts, client), nil
		case c.Path != "":
			if c.MaxBytes < 0 {
				return nil, fmt.Errorf("max_bytes: negative")
			}
			if c.MaxFiles < 0 {
				return nil, fmt.Errorf("max_files: negative")
			}
			rf, err := NewRotatingFile(c.Path, c.MaxBytes, c.MaxFiles)
			if err != nil {
				return nil, fmt.Errorf("path: %w", err)
			}
			return NewOCSFFile(c.Name, rf, opts), nil
		default:
			return nil, fmt.Errorf("path or url: one is required")
		}
	case "":
		return nil, fmt.Errorf("type: missing (webhook, syslog, splunk_hec or ocsf)")
	default:
		return nil, fmt.Errorf("type: unknown %q (want webhook, syslog, splunk_hec or ocsf)", c.Type)
	}
}

func httpURL(s string) error {
	if s == "" {
		return fmt.Errorf("url: required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url: want an absolute http(s) URL, got %q", redactURL(s))
	}
	return nil
}

func secretValue(field, inline, env string) (string, error) {
	if inline != "" && env != "" {
		return "", fmt.Errorf("%s and %s_env: give one, not both", field, field)
	}
	if env != "" {
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s_env: environment variable %s is not set", field, env)
		}
		return v, nil
	}
	return inline, nil
}

func (c Config) tlsConfig() (*tls.Config, error) {
	if c.CAFile == "" && c.ServerName == "" && !c.InsecureSkipVerify {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // operator's explicit choice
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}
