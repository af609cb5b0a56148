package sink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/config"
)

// Config describes one sink in the configuration file (list "sinks").
// Secrets can be given inline or, better, by environment variable name
// (secret_env, token_env). Each type uses some of the keys (sinkKeys); a
// key another type uses is an error, so a misplaced key is not silently
// ignored.
type Config struct {
	Type string `json:"type" yaml:"type" doc:"webhook, syslog, splunk_hec or ocsf (docs/sinks.md)"`
	Name string `json:"name,omitempty" yaml:"name,omitempty" doc:"name in logs and metrics (default TYPE-INDEX)"`

	Filter `yaml:",inline"`

	// HTTP sinks (webhook, splunk_hec, ocsf with url).
	URL     string            `json:"url,omitempty" yaml:"url,omitempty" doc:"webhook, splunk_hec, ocsf: receiver URL (http or https)"`
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty" doc:"webhook, splunk_hec, ocsf with url: extra request headers"`
	Timeout config.Duration   `json:"timeout,omitempty" yaml:"timeout,omitempty" doc:"delivery timeout of one request or connection; 0 = 10s"`

	// webhook: HMAC-SHA256 shared secret.
	Secret    string `json:"secret,omitempty" yaml:"secret,omitempty" doc:"webhook: HMAC-SHA256 secret (prefer secret_env)"`
	SecretEnv string `json:"secret_env,omitempty" yaml:"secret_env,omitempty" doc:"webhook: environment variable holding the secret"`

	// splunk_hec.
	Token    string `json:"token,omitempty" yaml:"token,omitempty" doc:"splunk_hec: HEC token (prefer token_env)"`
	TokenEnv string `json:"token_env,omitempty" yaml:"token_env,omitempty" doc:"splunk_hec: environment variable holding the token"`
	Index    string `json:"index,omitempty" yaml:"index,omitempty" doc:"splunk_hec: index"`
	Host     string `json:"host,omitempty" yaml:"host,omitempty" doc:"splunk_hec: host field of the events"`

	// syslog.
	Network  string `json:"network,omitempty" yaml:"network,omitempty" doc:"syslog: udp (default), tcp or tls"`
	Address  string `json:"address,omitempty" yaml:"address,omitempty" doc:"syslog: receiver host:port"`
	Facility string `json:"facility,omitempty" yaml:"facility,omitempty" doc:"syslog: facility name (default local0)"`
	Hostname string `json:"hostname,omitempty" yaml:"hostname,omitempty" doc:"syslog: HOSTNAME field (default the machine's name)"`
	// TLS (syslog network tls, and https URLs).
	CAFile             string `json:"ca_file,omitempty" yaml:"ca_file,omitempty" doc:"TLS: PEM file of the CAs to trust"`
	ServerName         string `json:"server_name,omitempty" yaml:"server_name,omitempty" doc:"TLS: name to verify in the receiver's certificate"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty" yaml:"insecure_skip_verify,omitempty" doc:"TLS: do not verify the receiver's certificate (tests only)"`

	// ocsf: a file (rotated by size) or url.
	Path          string `json:"path,omitempty" yaml:"path,omitempty" doc:"ocsf: file written as NDJSON (give path or url)"`
	MaxBytes      int64  `json:"max_bytes,omitempty" yaml:"max_bytes,omitempty" doc:"ocsf file: size at which it is rotated; 0 = 100 MiB"`
	MaxFiles      int    `json:"max_files,omitempty" yaml:"max_files,omitempty" doc:"ocsf file: rotated files kept; 0 = 5"`
	APIActivity   bool   `json:"api_activity,omitempty" yaml:"api_activity,omitempty" doc:"ocsf: also write API Activity events"`
	CloudProvider string `json:"cloud_provider,omitempty" yaml:"cloud_provider,omitempty" doc:"ocsf: cloud.provider of the events"`
}

// sinkKeys lists the keys each type uses besides type, name and the
// filter (types, min_severity).
var sinkKeys = map[string][]string{
	"webhook":    {"url", "headers", "timeout", "secret", "secret_env", "ca_file", "server_name", "insecure_skip_verify"},
	"splunk_hec": {"url", "headers", "timeout", "token", "token_env", "index", "host", "ca_file", "server_name", "insecure_skip_verify"},
	"syslog":     {"network", "address", "facility", "hostname", "timeout", "ca_file", "server_name", "insecure_skip_verify"},
	"ocsf":       {"url", "headers", "timeout", "path", "max_bytes", "max_files", "api_activity", "cloud_provider", "ca_file", "server_name", "insecure_skip_verify"},
}

// Validate implements config.Validator: everything that can be checked
// without connecting (environment variables named by secret_env and
// token_env must be set; ca_file must hold a certificate).
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if used, ok := sinkKeys[c.Type]; ok {
		allowed := map[string]bool{}
		for _, k := range used {
			allowed[k] = true
		}
		v := reflect.ValueOf(c)
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if key == "" || key == "type" || key == "name" || allowed[key] {
				continue
			}
			if !v.Field(i).IsZero() {
				add(config.Errorf(key, "not used by type %s", c.Type))
			}
		}
	}
	// The embedded Filter validates itself (config walks into it).
	_, err := c.check()
	add(err)
	return errors.Join(errs...)
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

// check runs the static checks of a sink's keys (Validate and build
// share it).
func (c Config) check() (*tls.Config, error) {
	if c.Timeout < 0 {
		return nil, fmt.Errorf("timeout: must not be negative")
	}
	for k, v := range c.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("headers: invalid header %q", clip(k, 40))
		}
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
	case "syslog":
		switch c.Network {
		case "", "udp", "tcp", "tls":
		default:
			return nil, fmt.Errorf("network: want udp, tcp or tls, got %q", c.Network)
		}
		if _, ok := facilities[strings.ToLower(c.Facility)]; c.Facility != "" && !ok {
			return nil, fmt.Errorf("facility: unknown %q", c.Facility)
		}
		if _, port, err := net.SplitHostPort(c.Address); err != nil || port == "" {
			return nil, fmt.Errorf("address: want host:port, got %q", c.Address)
		} else if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("address: bad port %q", port)
		}
	case "ocsf":
		switch {
		case c.Path != "" && c.URL != "":
			return nil, fmt.Errorf("path and url: give one, not both")
		case c.URL != "":
			if err := httpURL(c.URL); err != nil {
				return nil, err
			}
		case c.Path != "":
			if c.MaxBytes < 0 {
				return nil, fmt.Errorf("max_bytes: negative")
			}
			if c.MaxFiles < 0 {
				return nil, fmt.Errorf("max_files: negative")
			}
		default:
			return nil, fmt.Errorf("path or url: one is required")
		}
	case "":
		return nil, fmt.Errorf("type: missing (webhook, syslog, splunk_hec or ocsf)")
	default:
		return nil, fmt.Errorf("type: unknown %q (want webhook, syslog, splunk_hec or ocsf)", c.Type)
	}
	return c.tlsConfig()
}

func build(c Config) (Sink, error) {
	timeout := 10 * time.Second
	if c.Timeout > 0 {
		timeout = c.Timeout.D()
	}
	tlsConf, err := c.check()
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsConf, MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second,
	}}
	header := http.Header{}
	for k, v := range c.Headers {
		header.Set(k, v)
	}
	switch c.Type {
	case "webhook":
		secret, _ := secretValue("secret", c.Secret, c.SecretEnv)
		return NewWebhook(c.Name, c.URL, []byte(secret), header, client), nil
	case "splunk_hec":
		tok, _ := secretValue("token", c.Token, c.TokenEnv)
		return NewSplunkHEC(c.Name, c.URL, tok, c.Index, c.Host, "palisade", client), nil
	case "syslog":
		if c.Network == "" {
			c.Network = "udp"
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
		if c.URL != "" {
			return NewOCSFHTTP(c.Name, c.URL, header, opts, client), nil
		}
		rf, err := NewRotatingFile(c.Path, c.MaxBytes, c.MaxFiles)
		if err != nil {
			return nil, fmt.Errorf("path: %w", err)
		}
		return NewOCSFFile(c.Name, rf, opts), nil
	}
	return nil, fmt.Errorf("type: unknown %q", c.Type)
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
