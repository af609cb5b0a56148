package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/store"
)

const kongConf = `_format_version: "3.0"
services:
  - name: shop
    url: http://shop.internal:8080
    routes:
      - name: shop
        hosts: [api.example.com]
        paths: [/v1]
      - name: legacy
        hosts: [api.example.com]
        paths: [/v0]
consumers:
  - username: partner
    keyauth_credentials: [{key: 0123456789abcdef0123}]
`

func TestGatewayConfigsAPI(t *testing.T) {
	env := newEnv(t, nil, nil)
	// Only admins upload; the value never comes back.
	if resp, _ := env.do(t, "POST", "/api/v1/gateway-configs?name=kong.yaml", "analyst", strings.NewReader(kongConf)); resp.StatusCode != 403 {
		t.Fatalf("analyst upload: %d", resp.StatusCode)
	}
	resp, body := env.do(t, "POST", "/api/v1/gateway-configs?name=kong.yaml", "admin", strings.NewReader(kongConf))
	if resp.StatusCode != 201 || strings.Contains(string(body), "0123456789abcdef0123") {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	var up struct {
		Config struct {
			ID, Kind, Status string
			Routes           int
		} `json:"gateway_config"`
	}
	json.Unmarshal(body, &up)
	if up.Config.Kind != "kong" || up.Config.Routes != 2 || up.Config.Status != "ok" || !strings.HasPrefix(up.Config.ID, "gw_") {
		t.Fatalf("upload answer: %s", body)
	}
	// Validation as the loader: located errors, OpenAPI refused, bad kind.
	for _, c := range []struct {
		q, body, want string
		code          int
	}{
		{"name=broken.conf", "http {\n server {\n  location / { proxy_pass http://a;\n", "broken.conf:", 422},
		{"name=api.yaml", "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n", "/api/v1/specs", 422},
		{"name=x.yaml&kind=traefik", "a: b\n", "kind", 400},
		{"name=x.yaml", "hello: world\n", "not a recognized configuration", 422},
		{"name=../etc/passwd", kongConf, "path separators", 400},
	} {
		resp, body := env.do(t, "POST", "/api/v1/gateway-configs?"+c.q, "admin", strings.NewReader(c.body))
		if resp.StatusCode != c.code || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: %d %s", c.q, resp.StatusCode, body)
		}
	}
	_, body = env.do(t, "GET", "/api/v1/gateway-configs", "viewer", nil)
	if !strings.Contains(string(body), `"kong.yaml"`) || strings.Contains(string(body), "0123456789abcdef0123") {
		t.Fatalf("list: %s", body)
	}
	// Its findings, static and joined with traffic, reach /api/v1/findings
	// at the next checkpoint.
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(5, "/v1/users")))
	waitFor(t, "gateway findings", func() bool {
		_, b := env.do(t, "GET", "/api/v1/findings?limit=500", "viewer", nil)
		return strings.Contains(string(b), "PAL-G004") && strings.Contains(string(b), "PAL-G101") && strings.Contains(string(b), `"source":"gateway-config"`)
	})
	_, b := env.do(t, "GET", "/api/v1/findings?rule=PAL-G004", "viewer", nil)
	if strings.Contains(string(b), "0123456789abcdef0123") {
		t.Fatalf("inline secret in the clear: %s", b)
	}
	// Deletion.
	if resp, _ := env.do(t, "DELETE", "/api/v1/gateway-configs/"+up.Config.ID, "viewer", nil); resp.StatusCode != 403 {
		t.Errorf("viewer delete: %d", resp.StatusCode)
	}
	if resp, _ := env.do(t, "DELETE", "/api/v1/gateway-configs/"+up.Config.ID, "admin", nil); resp.StatusCode != 204 {
		t.Errorf("delete: %d", resp.StatusCode)
	}
	if resp, _ := env.do(t, "DELETE", "/api/v1/gateway-configs/"+up.Config.ID, "admin", nil); resp.StatusCode != 404 {
		t.Errorf("second delete: %d", resp.StatusCode)
	}
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(2, "/v1/users")))
	waitFor(t, "gateway findings gone", func() bool {
		_, b := env.do(t, "GET", "/api/v1/findings?limit=500", "viewer", nil)
		return !strings.Contains(string(b), "PAL-G")
	})
	// The audit log names both actions.
	_, b = env.do(t, "GET", "/api/v1/audit-log", "admin", nil)
	if !strings.Contains(string(b), "gateway.upload") || !strings.Contains(string(b), "gateway.delete") {
		t.Errorf("audit log: %s", b)
	}
}

// TestGatewayConfigNeverBlocksStartup stores a configuration that does not
// parse (as a newer reader might have accepted it) and starts a server on
// that store: it starts, and lists the configuration with its error.
func TestGatewayConfigNeverBlocksStartup(t *testing.T) {
	dir := t.TempDir()
	st, err := openTestStore(t, dir, "palisade.db")
	if err != nil {
		t.Fatal(err)
	}
	st.SaveGatewayConfig(context.Background(), store.GatewayConfig{ID: "gw_bad", Name: "bad.conf", Kind: "nginx", SHA256: "x", Content: []byte("server {"), UploadedAt: time.Now(), UploadedBy: "tk_x"})
	st.SaveGatewayConfig(context.Background(), store.GatewayConfig{ID: "gw_good", Name: "good.yaml", Kind: "kong", SHA256: "y", Content: []byte(kongConf), UploadedAt: time.Now(), UploadedBy: "tk_x"})
	st.Close()
	env := newEnvDir(t, dir, nil, nil)
	_, body := env.do(t, "GET", "/api/v1/gateway-configs", "viewer", nil)
	var list struct {
		Items []struct {
			ID, Status, Error string
			Routes            int
		} `json:"items"`
	}
	json.Unmarshal(body, &list)
	if len(list.Items) != 2 || list.Items[0].Status != "error" || !strings.Contains(list.Items[0].Error, "bad.conf") || list.Items[1].Status != "ok" || list.Items[1].Routes != 2 {
		t.Fatalf("%s", body)
	}
}
