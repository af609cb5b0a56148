package gateway

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/testutil"
)

// Rule fixtures: for every format, one hardened baseline configuration
// (no finding at all) and, per rule, a positive variant (the rule fires,
// at a located position) and a negative variant (a near miss: the same
// aspect configured correctly, the rule stays quiet). Variants replace the
// «SLOTS» of the baseline. The files in testdata/rules are these variants,
// written by -update and compared here so they stay in sync.

type format struct {
	name, ext string
	base      string
	slots     map[string]string // secure defaults
	rules     map[string][2]map[string]string
}

// ruleCells lists which (format, rule) pairs the format can express.
func ruleCells() []format {
	return []format{kongFixtures(), nginxFixtures(), envoyFixtures(), ingressFixtures(), gatewayAPIFixtures(), apimFixtures(), awsFixtures()}
}

func (f format) render(over map[string]string) string {
	var pairs []string
	keys := make([]string, 0, len(f.slots))
	for k := range f.slots {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := f.slots[k]
		if o, ok := over[k]; ok {
			v = o
		}
		pairs = append(pairs, "«"+k+"»", v)
	}
	out := strings.NewReplacer(pairs...).Replace(f.base)
	// Drop lines left empty by removed slots.
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestRuleFixtures(t *testing.T) {
	matrix := map[string]map[string]string{}
	var ruleIDs []string
	for _, r := range catalogue {
		if !r.Joined {
			ruleIDs = append(ruleIDs, r.ID)
		}
	}
	for _, f := range ruleCells() {
		dir := filepath.Join("testdata", "rules", f.name)
		check := func(name, content string) *Config {
			t.Helper()
			p := filepath.Join(dir, name)
			testutil.Golden(t, p, []byte(content))
			cfg, err := Load(p, "")
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			return cfg
		}
		base := check("baseline"+f.ext, f.render(nil))
		fs, err := Audit(base, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range fs {
			t.Errorf("%s baseline: unexpected %s at %s:%d:%d: %s", f.name, x.Rule, x.Location.File, x.Location.Line, x.Location.Column, x.Message)
		}
		if len(base.Routes) == 0 {
			t.Errorf("%s baseline: no route read", f.name)
		}
		matrix[f.name] = map[string]string{}
		for _, id := range ruleIDs {
			cell, ok := f.rules[id]
			if !ok {
				matrix[f.name][id] = "n/a"
				continue
			}
			r := ruleByID(id)
			slug := strings.ToLower(strings.TrimPrefix(id, "PAL-")) + "-" + r.Name
			pos := check(slug+".pos"+f.ext, f.render(cell[0]))
			neg := check(slug+".neg"+f.ext, f.render(cell[1]))
			pf, _ := Audit(pos, Options{Only: []string{id}})
			nf, _ := Audit(neg, Options{Only: []string{id}})
			lines := strings.Count(f.render(cell[0]), "\n")
			res := ""
			if len(pf) == 0 {
				t.Errorf("%s %s: positive fixture raised nothing", f.name, id)
				res += "pos MISSED"
			} else {
				res += fmt.Sprintf("pos %d", len(pf))
				for _, x := range pf {
					l := x.Location
					if l == nil || l.Line < 1 || l.Line > lines || l.Column < 1 || !strings.HasSuffix(l.File, f.ext) {
						t.Errorf("%s %s: finding not located in the file: %+v", f.name, id, l)
					}
				}
			}
			if len(nf) > 0 {
				t.Errorf("%s %s: negative fixture raised %d: %s", f.name, id, len(nf), nf[0].Message)
				res += fmt.Sprintf(" / neg %d (WRONG)", len(nf))
			} else {
				res += " / neg 0"
			}
			matrix[f.name][id] = res
		}
	}
	if testing.Verbose() {
		var b strings.Builder
		names := []string{}
		for _, f := range ruleCells() {
			names = append(names, f.name)
		}
		fmt.Fprintf(&b, "| rule | %s |\n|---|%s\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
		for _, id := range ruleIDs {
			fmt.Fprintf(&b, "| %s |", id)
			for _, n := range names {
				fmt.Fprintf(&b, " %s |", matrix[n][id])
			}
			b.WriteString("\n")
		}
		t.Log("\n" + b.String())
	}
}

type cells = map[string][2]map[string]string

func kongFixtures() format {
	return format{name: "kong", ext: ".yaml",
		base: `_format_version: "3.0"
services:
  - name: orders
    url: «BACKEND»
«VERIFY»
    routes:
      - name: orders-v2
        hosts: [«HOST»]
        paths: [«PATH»]
        methods: [GET, POST]
«ROUTES»
    plugins:
«AUTH»
«ACL»
«RATE»
«SIZE»
      - name: cors
        config: {origins: [«ORIGIN»], credentials: true}
«HEADERS»
«SERVICE2»
consumers:
  - username: billing
    keyauth_credentials: [{key: «KEY»}]
    acls: [{group: orders}]
plugins:
«LOG»
`,
		slots: map[string]string{
			"BACKEND": "https://orders.example.internal:8443", "VERIFY": "    tls_verify: true", "HOST": "api.example.com", "PATH": "/v2/orders",
			"ROUTES": "", "AUTH": "      - name: key-auth", "ACL": "      - name: acl\n        config: {allow: [orders]}",
			"RATE": "      - name: rate-limiting\n        config: {minute: 100, limit_by: consumer}", "SIZE": "      - name: request-size-limiting\n        config: {allowed_payload_size: 1}",
			"ORIGIN":   "https://app.example.com",
			"HEADERS":  "      - name: response-transformer\n        config: {add: {headers: [\"Strict-Transport-Security:max-age=31536000\", \"X-Content-Type-Options:nosniff\"]}}",
			"SERVICE2": "", "KEY": `"{vault://aws/billing-key}"`,
			"LOG": "  - name: opentelemetry\n    config: {endpoint: https://palisade.example.com/api/v1/otlp/v1/traces}",
		},
		rules: cells{
			"PAL-G001": {{"AUTH": ""}, {"AUTH": "      - name: openid-connect\n        config: {issuer: https://login.example.com}"}},
			"PAL-G002": {{"BACKEND": "http://orders.example.internal:8080", "VERIFY": ""}, {"BACKEND": "http://127.0.0.1:8080", "VERIFY": ""}},
			"PAL-G003": {{"VERIFY": "    tls_verify: false"}, {"VERIFY": "    tls_verify: true\n    ca_certificates: [4e3ad2e4-0bc4-4638-8e34-c84a417ba39b]"}},
			"PAL-G004": {{"KEY": "9c2f0e7d1b9a4c6e8f31"}, {"KEY": `"{vault://env/billing-key}"`}},
			"PAL-G005": {{"RATE": "      - name: rate-limiting\n        enabled: false\n        config: {minute: 100}"}, {"RATE": "      - name: rate-limiting-advanced\n        config: {limit: [600], window_size: [60]}"}},
			"PAL-G006": {{"SIZE": ""}, {"SIZE": "      - name: request-size-limiting\n        config: {allowed_payload_size: 8, size_unit: kilobytes}"}},
			"PAL-G007": {{"ORIGIN": `"*"`}, {"ORIGIN": "https://app.example.com, https://admin.example.com"}},
			"PAL-G008": {{"PATH": "/admin"}, {"PATH": "/v2/administration-fees"}},
			"PAL-G009": {{"ROUTES": "      - name: orders-v1\n        hosts: [api.example.com]\n        paths: [/v1/orders]"}, {"ROUTES": "      - name: invoices-v1\n        hosts: [api.example.com]\n        paths: [/v1/invoices]"}},
			"PAL-G010": {{"LOG": "  - name: file-log\n    config: {path: /var/log/kong/requests.log}"}, {"LOG": "  - name: opentelemetry\n    config: {endpoint: https://otel-collector.example.com/v1/traces}"}},
			"PAL-G011": {{"HOST": "\"*.example.com\""}, {"HOST": "api.example.com, api.eu.example.com"}},
			"PAL-G012": {{"HEADERS": ""}, {"HEADERS": "      - name: response-transformer\n        config: {append: {headers: [\"Strict-Transport-Security:max-age=63072000\", \"X-Content-Type-Options:nosniff\"]}}"}},
			"PAL-G013": {
				{"ACL": "", "SERVICE2": "  - name: payments\n    url: https://payments.example.internal:8443\n    tls_verify: true\n    routes:\n      - name: payments\n        hosts: [api.example.com]\n        paths: [/v2/payments]\n        methods: [GET]\n    plugins:\n      - name: key-auth\n      - name: rate-limiting\n        config: {minute: 100}\n      - name: response-transformer\n        config: {add: {headers: [\"Strict-Transport-Security:max-age=31536000\", \"X-Content-Type-Options:nosniff\"]}}"},
				{"SERVICE2": "  - name: payments\n    url: https://payments.example.internal:8443\n    tls_verify: true\n    routes:\n      - name: payments\n        hosts: [api.example.com]\n        paths: [/v2/payments]\n        methods: [GET]\n    plugins:\n      - name: key-auth\n      - name: acl\n        config: {allow: [payments]}\n      - name: rate-limiting\n        config: {minute: 100}\n      - name: response-transformer\n        config: {add: {headers: [\"Strict-Transport-Security:max-age=31536000\", \"X-Content-Type-Options:nosniff\"]}}"}},
		}}
}

func nginxFixtures() format {
	return format{name: "nginx", ext: ".conf",
		base: `events {}
http {
    log_format palisade escape=json '{"msec":"$msec","host":"$host","request_uri":"$request_uri","status":"$status"}';
    access_log /var/log/nginx/palisade.log palisade;
    limit_req_zone $binary_remote_addr zone=api:10m rate=10r/s;
    upstream orders {
        server orders.example.internal:8443;
    }
    server {
        listen 443 ssl;
        server_name «HOST»;
        ssl_certificate /etc/nginx/tls/api.crt;
        ssl_certificate_key /etc/nginx/tls/api.key;
        client_max_body_size «SIZE»;
«HEADERS»
        add_header Access-Control-Allow-Origin «ORIGIN» always;
        add_header Access-Control-Allow-Credentials true always;
        location «PATH» {
«AUTH»
«RATE»
«SECRET»
            proxy_pass «SCHEME»://orders;
«VERIFY»
«LOGOFF»
        }
«EXTRA»
        location = /_auth {
            internal;
            proxy_pass https://auth.example.internal/verify;
        }
    }
}
`,
		slots: map[string]string{
			"HOST": "api.example.com", "SIZE": "1m",
			"HEADERS": "        add_header Strict-Transport-Security \"max-age=31536000\" always;\n        add_header X-Content-Type-Options nosniff always;",
			"ORIGIN":  "https://app.example.com", "PATH": "/v2/orders/",
			"AUTH": "            auth_request /_auth;", "RATE": "            limit_req zone=api burst=20 nodelay;",
			"SECRET": "            proxy_set_header X-Request-Source gateway;", "SCHEME": "https",
			"VERIFY": "            proxy_ssl_verify on;\n            proxy_ssl_trusted_certificate /etc/nginx/tls/ca.pem;",
			"LOGOFF": "", "EXTRA": "",
		},
		rules: cells{
			"PAL-G001": {{"AUTH": ""}, {"AUTH": "            auth_basic \"orders\";\n            auth_basic_user_file /etc/nginx/htpasswd;"}},
			"PAL-G002": {{"SCHEME": "http", "VERIFY": ""}, {"SCHEME": "https"}},
			"PAL-G003": {{"VERIFY": "            proxy_ssl_verify off;"}, {"VERIFY": "            proxy_ssl_verify on;\n            proxy_ssl_verify_depth 2;\n            proxy_ssl_trusted_certificate /etc/nginx/tls/ca.pem;"}},
			"PAL-G004": {{"SECRET": "            proxy_set_header Authorization \"Bearer 9f8e7d6c5b4a39281706aa\";"}, {"SECRET": "            proxy_set_header Authorization $http_authorization;"}},
			"PAL-G005": {{"RATE": ""}, {"RATE": "            limit_req zone=api;"}},
			"PAL-G006": {{"SIZE": "0"}, {"SIZE": "10m"}},
			"PAL-G007": {{"ORIGIN": "$http_origin"}, {"ORIGIN": "https://admin.example.com"}},
			"PAL-G008": {{"PATH": "/actuator/"}, {"PATH": "/v2/actuators-catalogue/"}},
			"PAL-G009": {{"EXTRA": "        location /v1/orders/ {\n            auth_request /_auth;\n            limit_req zone=api;\n            proxy_pass https://orders;\n            proxy_ssl_verify on;\n        }"}, {"EXTRA": "        location /v2/invoices/ {\n            auth_request /_auth;\n            limit_req zone=api;\n            proxy_pass https://orders;\n            proxy_ssl_verify on;\n        }"}},
			"PAL-G010": {{"LOGOFF": "            access_log off;"}, {"LOGOFF": "            access_log /var/log/nginx/orders.log palisade;"}},
			"PAL-G011": {{"HOST": "*.example.com"}, {"HOST": "api.example.com www.api.example.com"}},
			"PAL-G012": {{"HEADERS": ""}, {"HEADERS": "        add_header Strict-Transport-Security \"max-age=63072000; includeSubDomains\" always;\n        add_header X-Content-Type-Options \"nosniff\" always;"}},
		}}
}

func envoyFixtures() format {
	return format{name: "envoy", ext: ".yaml",
		base: `admin:
  address:
    socket_address: {address: «ADMIN», port_value: 9901}
static_resources:
  listeners:
  - name: https
    address:
      socket_address: {address: 0.0.0.0, port_value: 8443}
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            tls_certificates:
            - certificate_chain: {filename: /etc/envoy/tls.crt}
              private_key: «KEY»
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
«LOG»
          http_filters:
«AUTH»
«RATE»
«SIZE»
          - name: envoy.filters.http.cors
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors}
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          route_config:
            name: main
«HEADERS»
            virtual_hosts:
            - name: orders
              domains: [«HOST»]
              typed_per_filter_config:
                envoy.filters.http.cors:
                  "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
                  allow_origin_string_match: [«ORIGIN»]
                  allow_credentials: true
              routes:
              - match: {prefix: «PATH»}
                route: {cluster: orders}
«EXTRA»
  clusters:
  - name: orders
    type: STRICT_DNS
    load_assignment:
      cluster_name: orders
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {address: orders.example.internal, port_value: 8443}
«TLS»
`,
		slots: map[string]string{
			"ADMIN": "127.0.0.1", "KEY": "{filename: /etc/envoy/tls.key}",
			"LOG":     "          access_log:\n          - name: envoy.access_loggers.file\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog\n              path: /var/log/envoy/palisade.log\n              log_format:\n                json_format: {start_time: \"%START_TIME%\", method: \"%REQ(:METHOD)%\", path: \"%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%\", response_code: \"%RESPONSE_CODE%\"}",
			"AUTH":    "          - name: envoy.filters.http.jwt_authn\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication\n              providers:\n                idp:\n                  issuer: https://idp.example.com\n                  remote_jwks: {http_uri: {uri: https://idp.example.com/jwks, cluster: idp, timeout: 5s}}\n              rules:\n              - match: {prefix: /}\n                requires: {provider_name: idp}",
			"RATE":    "          - name: envoy.filters.http.local_ratelimit\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit\n              stat_prefix: rl\n              token_bucket: {max_tokens: 100, tokens_per_fill: 100, fill_interval: 1s}",
			"SIZE":    "          - name: envoy.filters.http.buffer\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer\n              max_request_bytes: 1048576",
			"HEADERS": "            response_headers_to_add:\n            - header: {key: Strict-Transport-Security, value: max-age=31536000}\n            - header: {key: X-Content-Type-Options, value: nosniff}",
			"HOST":    "api.example.com", "ORIGIN": "{exact: \"https://app.example.com\"}", "PATH": "/v2/orders", "EXTRA": "",
			"TLS": "    transport_socket:\n      name: envoy.transport_sockets.tls\n      typed_config:\n        \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\n        sni: orders.example.internal\n        common_tls_context:\n          validation_context:\n            trusted_ca: {filename: /etc/ssl/certs/ca-certificates.crt}",
		},
		rules: cells{
			"PAL-G001": {{"AUTH": ""}, {"AUTH": "          - name: envoy.filters.http.ext_authz\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz\n              grpc_service: {envoy_grpc: {cluster_name: authz}}"}},
			"PAL-G002": {{"TLS": ""}, {"TLS": "    transport_socket:\n      name: envoy.transport_sockets.tls\n      typed_config:\n        \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\n        common_tls_context:\n          validation_context_sds_secret_config: {name: orders-ca}"}},
			"PAL-G003": {{"TLS": "    transport_socket:\n      name: envoy.transport_sockets.tls\n      typed_config:\n        \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\n        sni: orders.example.internal"}, {"TLS": "    transport_socket:\n      name: envoy.transport_sockets.tls\n      typed_config:\n        \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\n        sni: orders.example.internal\n        common_tls_context:\n          validation_context:\n            trusted_ca: {filename: /etc/envoy/orders-ca.pem}\n            match_typed_subject_alt_names: [{san_type: DNS, matcher: {exact: orders.example.internal}}]"}},
			"PAL-G004": {{"KEY": "{inline_string: \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\\n-----END PRIVATE KEY-----\\n\"}"}, {"KEY": "{filename: /run/secrets/envoy-tls.key}"}},
			"PAL-G005": {{"RATE": ""}, {"RATE": "          - name: envoy.filters.http.ratelimit\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit\n              domain: edge\n              rate_limit_service: {grpc_service: {envoy_grpc: {cluster_name: ratelimit}}, transport_api_version: V3}"}},
			"PAL-G006": {{"SIZE": ""}, {"SIZE": "          - name: envoy.filters.http.buffer\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer\n              max_request_bytes: 65536"}},
			"PAL-G007": {{"ORIGIN": "{safe_regex: {regex: \".*\"}}"}, {"ORIGIN": "{safe_regex: {regex: \"https://[a-z]+\\\\.example\\\\.com\"}}"}},
			"PAL-G008": {{"ADMIN": "0.0.0.0"}, {"ADMIN": "\"::1\""}},
			"PAL-G009": {{"EXTRA": "              - match: {prefix: /v1/orders}\n                route: {cluster: orders}"}, {"EXTRA": "              - match: {prefix: /v2/invoices}\n                route: {cluster: orders}"}},
			"PAL-G010": {{"LOG": ""}, {"LOG": "          access_log:\n          - name: envoy.access_loggers.open_telemetry\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig\n              common_config: {log_name: palisade, transport_api_version: V3, grpc_service: {envoy_grpc: {cluster_name: otel}}}"}},
			"PAL-G011": {{"HOST": "\"*\""}, {"HOST": "api.example.com, \"api.example.com:8443\""}},
			"PAL-G012": {{"HEADERS": ""}, {"HEADERS": "            response_headers_to_add:\n            - header: {key: strict-transport-security, value: max-age=63072000}\n              append_action: OVERWRITE_IF_EXISTS_OR_ADD\n            - header: {key: x-content-type-options, value: nosniff}"}},
		}}
}

func ingressFixtures() format {
	return format{name: "k8s-ingress", ext: ".yaml",
		base: `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: orders
  namespace: shop
  annotations:
«AUTH»
«RATE»
    nginx.ingress.kubernetes.io/proxy-body-size: «SIZE»
    nginx.ingress.kubernetes.io/backend-protocol: «PROTO»
«VERIFY»
    nginx.ingress.kubernetes.io/enable-cors: "true"
    nginx.ingress.kubernetes.io/cors-allow-origin: «ORIGIN»
«HEADERS»
«LOGOFF»
spec:
  ingressClassName: nginx
  tls:
  - hosts: [«HOST»]
    secretName: orders-tls
  rules:
  - host: «HOST»
    http:
      paths:
      - path: «PATH»
        pathType: Prefix
        backend:
          service:
            name: orders
            port: {number: 8443}
«EXTRA»
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ingress-nginx-controller
  namespace: ingress-nginx
data:
  log-format-escape-json: "true"
  log-format-upstream: '{"msec":"$msec","host":"$host","request_uri":"$request_uri","status":"$status"}'
«SECRET»
`,
		slots: map[string]string{
			"AUTH": "    nginx.ingress.kubernetes.io/auth-url: \"https://auth.example.com/verify\"", "RATE": "    nginx.ingress.kubernetes.io/limit-rps: \"20\"",
			"SIZE": "\"1m\"", "PROTO": "\"HTTPS\"", "VERIFY": "    nginx.ingress.kubernetes.io/proxy-ssl-verify: \"on\"\n    nginx.ingress.kubernetes.io/proxy-ssl-secret: \"shop/orders-ca\"",
			"ORIGIN":  "\"https://app.example.com\"",
			"HEADERS": "    nginx.ingress.kubernetes.io/configuration-snippet: |\n      more_set_headers \"Strict-Transport-Security: max-age=31536000\";\n      more_set_headers \"X-Content-Type-Options: nosniff\";",
			"LOGOFF":  "", "HOST": "api.example.com", "PATH": "/v2/orders", "EXTRA": "", "SECRET": "",
		},
		rules: cells{
			"PAL-G001": {{"AUTH": ""}, {"AUTH": "    nginx.ingress.kubernetes.io/auth-type: basic\n    nginx.ingress.kubernetes.io/auth-secret: orders-basic-auth"}},
			"PAL-G002": {{"PROTO": "\"HTTP\"", "VERIFY": ""}, {"PROTO": "\"GRPCS\""}},
			"PAL-G003": {{"VERIFY": "    nginx.ingress.kubernetes.io/proxy-ssl-verify: \"off\""}, {"VERIFY": "    nginx.ingress.kubernetes.io/proxy-ssl-verify: \"on\""}},
			"PAL-G004": {{"SECRET": "---\napiVersion: v1\nkind: Secret\nmetadata: {name: orders-basic-auth, namespace: shop}\ntype: Opaque\nstringData:\n  auth: \"admin:$apr1$Xz9q$kVJ0c8m1qzW3gQ2sM8yP3/\""}, {"SECRET": "---\napiVersion: v1\nkind: Secret\nmetadata: {name: orders-tls, namespace: shop}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: \"\""}},
			"PAL-G005": {{"RATE": ""}, {"RATE": "    nginx.ingress.kubernetes.io/limit-rpm: \"600\""}},
			"PAL-G006": {{"SIZE": "\"0\""}, {"SIZE": "\"8m\""}},
			"PAL-G007": {{"ORIGIN": "\"*\""}, {"ORIGIN": "\"https://app.example.com, https://admin.example.com\""}},
			"PAL-G008": {{"PATH": "/actuator"}, {"PATH": "/v2/factory"}},
			"PAL-G009": {{"EXTRA": "      - path: /v1/orders\n        pathType: Prefix\n        backend:\n          service:\n            name: orders-v1\n            port: {number: 8443}"}, {"EXTRA": "      - path: /v2/invoices\n        pathType: Prefix\n        backend:\n          service:\n            name: invoices\n            port: {number: 8443}"}},
			"PAL-G010": {{"LOGOFF": "    nginx.ingress.kubernetes.io/enable-access-log: \"false\""}, {"LOGOFF": "    nginx.ingress.kubernetes.io/enable-access-log: \"true\""}},
			"PAL-G011": {{"HOST": "\"*.example.com\""}, {"HOST": "api.example.com"}},
			"PAL-G012": {{"HEADERS": ""}, {"HEADERS": "    nginx.ingress.kubernetes.io/configuration-snippet: |\n      add_header Strict-Transport-Security \"max-age=63072000\" always;\n      add_header X-Content-Type-Options nosniff always;"}},
		}}
}

func gatewayAPIFixtures() format {
	return format{name: "k8s-gateway-api", ext: ".yaml",
		base: `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop}
spec:
  gatewayClassName: eg
  listeners:
  - name: https
    protocol: HTTPS
    port: 443
    hostname: «HOST»
    tls: {certificateRefs: [{name: edge-tls}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: orders, namespace: shop}
spec:
  parentRefs: [{name: edge}]
  hostnames: [«HOST»]
  rules:
  - matches:
    - path: {type: PathPrefix, value: «PATH»}
    filters:
«HEADERS»
«MIRROR»
«SECRET»
    backendRefs:
    - {name: orders, port: 8443}
«EXTRA»
«TLSPOLICY»
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: orders-auth, namespace: shop}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: orders}]
«AUTH»
  cors: {allowOrigins: [«ORIGIN»], allowCredentials: true}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: orders-traffic, namespace: shop}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: orders}]
«RATE»
«SIZE»
`,
		slots: map[string]string{
			"HOST": "api.example.com", "PATH": "/v2/orders",
			"HEADERS": "    - type: ResponseHeaderModifier\n      responseHeaderModifier:\n        set:\n        - {name: Strict-Transport-Security, value: max-age=31536000}\n        - {name: X-Content-Type-Options, value: nosniff}",
			"MIRROR":  "    - type: RequestMirror\n      requestMirror: {backendRef: {name: palisade-mirror, port: 8080}}",
			"SECRET":  "", "EXTRA": "",
			"TLSPOLICY": "---\napiVersion: gateway.networking.k8s.io/v1alpha3\nkind: BackendTLSPolicy\nmetadata: {name: orders-tls, namespace: shop}\nspec:\n  targetRefs: [{group: \"\", kind: Service, name: orders}]\n  validation:\n    caCertificateRefs: [{group: \"\", kind: ConfigMap, name: orders-ca}]\n    hostname: orders.shop.svc",
			"AUTH":      "  jwt: {providers: [{name: idp, remoteJWKS: {uri: \"https://idp.example.com/jwks\"}}]}",
			"ORIGIN":    "\"https://app.example.com\"",
			"RATE":      "  rateLimit: {type: Local, local: {rules: [{limit: {requests: 100, unit: Second}}]}}",
			"SIZE":      "  requestBuffer: {limit: 1Mi}",
		},
		rules: cells{
			"PAL-G001": {{"AUTH": ""}, {"AUTH": "  extAuth: {http: {backendRefs: [{name: authz, port: 9000}]}}"}},
			"PAL-G002": {{"TLSPOLICY": ""}, {"TLSPOLICY": "---\napiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: orders-tls, namespace: shop}\nspec:\n  targetRefs: [{group: \"\", kind: Service, name: orders}]\n  validation:\n    wellKnownCACertificates: System\n    hostname: orders.shop.svc"}},
			"PAL-G003": {{"TLSPOLICY": "---\napiVersion: gateway.networking.k8s.io/v1alpha3\nkind: BackendTLSPolicy\nmetadata: {name: orders-tls, namespace: shop}\nspec:\n  targetRefs: [{group: \"\", kind: Service, name: orders}]\n  validation:\n    hostname: orders.shop.svc"}, {"TLSPOLICY": "---\napiVersion: gateway.networking.k8s.io/v1alpha3\nkind: BackendTLSPolicy\nmetadata: {name: orders-tls, namespace: shop}\nspec:\n  targetRefs: [{group: \"\", kind: Service, name: orders}]\n  validation:\n    caCertificateRefs: [{group: \"\", kind: Secret, name: orders-ca}]\n    hostname: orders.shop.svc"}},
			"PAL-G004": {{"SECRET": "    - type: RequestHeaderModifier\n      requestHeaderModifier:\n        set:\n        - {name: Authorization, value: \"Bearer 5d41402abc4b2a76b9719d911017c592\"}"}, {"SECRET": "    - type: RequestHeaderModifier\n      requestHeaderModifier:\n        set:\n        - {name: X-Tenant, value: shop}"}},
			"PAL-G005": {{"RATE": ""}, {"RATE": "  rateLimit: {type: Global, global: {rules: [{limit: {requests: 1000, unit: Minute}}]}}"}},
			"PAL-G006": {{"SIZE": ""}, {"SIZE": "  requestBuffer: {limit: 64Ki}"}},
			"PAL-G007": {{"ORIGIN": "\"*\""}, {"ORIGIN": "\"https://*.example.com\""}},
			"PAL-G008": {{"PATH": "/debug/pprof"}, {"PATH": "/v2/debugging-guides"}},
			"PAL-G009": {{"EXTRA": "  - matches:\n    - path: {type: PathPrefix, value: /v1/orders}\n    backendRefs:\n    - {name: orders, port: 8443}"}, {"EXTRA": "  - matches:\n    - path: {type: PathPrefix, value: /v2/invoices}\n    backendRefs:\n    - {name: orders, port: 8443}"}},
			"PAL-G010": {{"MIRROR": ""}, {"MIRROR": "    - type: RequestMirror\n      requestMirror: {backendRef: {name: palisade, namespace: security, port: 8080}}"}},
			"PAL-G011": {{"HOST": "\"*.example.com\""}, {"HOST": "api.example.com"}},
			"PAL-G012": {{"HEADERS": ""}, {"HEADERS": "    - type: ResponseHeaderModifier\n      responseHeaderModifier:\n        add:\n        - {name: strict-transport-security, value: max-age=63072000}\n        - {name: x-content-type-options, value: nosniff}"}},
		}}
}

func apimFixtures() format {
	return format{name: "azure-apim", ext: ".json",
		base: `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [
    {
      "type": "Microsoft.ApiManagement/service",
      "apiVersion": "2022-08-01",
      "name": "contoso-apim",
      "location": "westeurope",
      "sku": {"name": "Developer", "capacity": 1},
      "properties": {
        "publisherEmail": "api@contoso.example",
        "publisherName": "Contoso",
        "hostnameConfigurations": [
          {"type": "Proxy", "hostName": "«HOST»", "certificateSource": "KeyVault", "keyVaultId": "https://contoso-kv.vault.azure.net/secrets/api-tls"}
        ]
      }
    },
    {
      "type": "Microsoft.ApiManagement/service/apis",
      "apiVersion": "2022-08-01",
      "name": "contoso-apim/orders-v2",
      "properties": {
        "displayName": "Orders",
        "path": "«PATH»",
        "protocols": ["https"],
        "serviceUrl": "«BACKEND»",
        "subscriptionRequired": «SUBREQ»,
        "apiVersion": "v2",
        "apiVersionSetId": "[resourceId('Microsoft.ApiManagement/service/apiVersionSets', 'contoso-apim', 'orders')]"
      }
    },
«EXTRA»
    {
      "type": "Microsoft.ApiManagement/service/apis/policies",
      "apiVersion": "2022-08-01",
      "name": "contoso-apim/orders-v2/policy",
      "properties": {
        "format": "rawxml",
        "value": "<policies><inbound><base />«AUTH»«RATE»«SIZE»«CORS»«SECRET»«SETBACKEND»</inbound><backend><base /></backend><outbound><base />«HEADERS»</outbound><on-error><base /></on-error></policies>"
      }
    },
    {
      "type": "Microsoft.ApiManagement/service/backends",
      "apiVersion": "2022-08-01",
      "name": "contoso-apim/orders-backend",
      "properties": {"url": "https://orders.contoso.internal", "protocol": "http", "tls": {"validateCertificateChain": «BTLS», "validateCertificateName": true}}
    },
«LOG»
    {
      "type": "Microsoft.ApiManagement/service/namedValues",
      "apiVersion": "2022-08-01",
      "name": "contoso-apim/orders-function-key",
      "properties": «NAMED»
    },
    {
      "type": "Microsoft.ApiManagement/service/subscriptions",
      "apiVersion": "2022-08-01",
      "name": "contoso-apim/billing",
      "properties": {"displayName": "Billing integration", "scope": "«SCOPE»", "state": "active"}
    }
  ]
}
`,
		slots: map[string]string{
			"HOST": "api.contoso.example", "PATH": "orders", "BACKEND": "https://orders.contoso.internal/api", "SUBREQ": "true", "EXTRA": "",
			"AUTH":   "<validate-jwt header-name='Authorization' failed-validation-httpcode='401'><openid-config url='https://login.contoso.example/.well-known/openid-configuration' /></validate-jwt>",
			"RATE":   "<rate-limit-by-key calls='100' renewal-period='60' counter-key='@(context.Subscription.Id)' />",
			"SIZE":   "<validate-content unspecified-content-type-action='prevent' max-size='102400' size-exceeded-action='prevent' />",
			"CORS":   "<cors allow-credentials='true'><allowed-origins><origin>https://app.contoso.example</origin></allowed-origins><allowed-methods><method>GET</method><method>POST</method></allowed-methods></cors>",
			"SECRET": "<set-header name='x-functions-key' exists-action='override'><value>{{orders-function-key}}</value></set-header>", "SETBACKEND": "",
			"HEADERS": "<set-header name='Strict-Transport-Security' exists-action='override'><value>max-age=31536000</value></set-header><set-header name='X-Content-Type-Options' exists-action='override'><value>nosniff</value></set-header>",
			"BTLS":    "true",
			"LOG":     "    {\n      \"type\": \"Microsoft.ApiManagement/service/diagnostics\",\n      \"apiVersion\": \"2022-08-01\",\n      \"name\": \"contoso-apim/azuremonitor\",\n      \"properties\": {\"loggerId\": \"[resourceId('Microsoft.ApiManagement/service/loggers', 'contoso-apim', 'azuremonitor')]\", \"sampling\": {\"samplingType\": \"fixed\", \"percentage\": 100}}\n    },",
			"NAMED":   "{\"displayName\": \"orders-function-key\", \"secret\": true, \"keyVault\": {\"secretIdentifier\": \"https://contoso-kv.vault.azure.net/secrets/orders-function-key\"}}",
			"SCOPE":   "/products/orders",
		},
		rules: cells{
			"PAL-G001": {{"AUTH": "", "SUBREQ": "false"}, {"AUTH": "", "SUBREQ": "true"}},
			"PAL-G002": {{"BACKEND": "http://orders.contoso.internal/api"}, {"BACKEND": "https://orders.contoso.internal:8443/api"}},
			"PAL-G003": {{"SETBACKEND": "<set-backend-service backend-id='orders-backend' />", "BTLS": "false"}, {"SETBACKEND": "<set-backend-service backend-id='orders-backend' />"}},
			"PAL-G004": {{"NAMED": "{\"displayName\": \"orders-function-key\", \"secret\": true, \"value\": \"q8Zr2v0Yb6Xw1Lp3Nd5Tg7Hk9Jm4Cs\"}"}, {"NAMED": "{\"displayName\": \"orders-function-key\", \"secret\": true, \"keyVault\": {\"secretIdentifier\": \"https://contoso-kv.vault.azure.net/secrets/orders-function-key-2\"}}"}},
			"PAL-G005": {{"RATE": ""}, {"RATE": "<quota-by-key calls='100000' renewal-period='2629800' counter-key='@(context.Subscription.Id)' />"}},
			"PAL-G006": {{"SIZE": ""}, {"SIZE": "<validate-content unspecified-content-type-action='ignore' max-size='4096' size-exceeded-action='prevent' />"}},
			"PAL-G007": {{"CORS": "<cors allow-credentials='false'><allowed-origins><origin>*</origin></allowed-origins></cors>"}, {"CORS": "<cors><allowed-origins><origin>https://portal.contoso.example</origin></allowed-origins></cors>"}},
			"PAL-G008": {{"PATH": "internal/admin"}, {"PATH": "administrations-registry"}},
			"PAL-G009": {{"EXTRA": "    {\n      \"type\": \"Microsoft.ApiManagement/service/apis\",\n      \"apiVersion\": \"2022-08-01\",\n      \"name\": \"contoso-apim/orders-v1\",\n      \"properties\": {\"displayName\": \"Orders\", \"path\": \"orders\", \"protocols\": [\"https\"], \"serviceUrl\": \"https://orders.contoso.internal/api\", \"apiVersion\": \"v1\", \"apiVersionSetId\": \"[resourceId('Microsoft.ApiManagement/service/apiVersionSets', 'contoso-apim', 'orders')]\"}\n    },"}, {"EXTRA": "    {\n      \"type\": \"Microsoft.ApiManagement/service/apis\",\n      \"apiVersion\": \"2022-08-01\",\n      \"name\": \"contoso-apim/invoices-v1\",\n      \"properties\": {\"displayName\": \"Invoices\", \"path\": \"invoices\", \"protocols\": [\"https\"], \"serviceUrl\": \"https://invoices.contoso.internal/api\", \"apiVersion\": \"v1\", \"apiVersionSetId\": \"[resourceId('Microsoft.ApiManagement/service/apiVersionSets', 'contoso-apim', 'invoices')]\"}\n    },"}},
			"PAL-G010": {{"LOG": ""}, {"LOG": "    {\n      \"type\": \"Microsoft.ApiManagement/service/apis/diagnostics\",\n      \"apiVersion\": \"2022-08-01\",\n      \"name\": \"contoso-apim/orders-v2/applicationinsights\",\n      \"properties\": {\"loggerId\": \"[resourceId('Microsoft.ApiManagement/service/loggers', 'contoso-apim', 'appinsights')]\"}\n    },"}},
			"PAL-G011": {{"HOST": "*.contoso.example"}, {"HOST": "orders.contoso.example"}},
			"PAL-G012": {{"HEADERS": ""}, {"HEADERS": "<set-header name='strict-transport-security' exists-action='skip'><value>max-age=63072000</value></set-header><set-header name='x-content-type-options' exists-action='skip'><value>nosniff</value></set-header>"}},
			"PAL-G013": {{"SCOPE": "/apis"}, {"SCOPE": "/apis/orders-v2"}},
		}}
}

func awsFixtures() format {
	return format{name: "aws-cloudformation", ext: ".yaml",
		base: `AWSTemplateFormatVersion: "2010-09-09"
Description: Orders API
Resources:
  OrdersApi:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Name: orders
  VersionResource:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref OrdersApi
      ParentId: !GetAtt OrdersApi.RootResourceId
      PathPart: v2
  OrdersResource:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref OrdersApi
      ParentId: !Ref VersionResource
      PathPart: «PART»
  OrdersGet:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref OrdersApi
      ResourceId: !Ref OrdersResource
      HttpMethod: GET
      AuthorizationType: «AUTH»
      AuthorizerId: !Ref OrdersAuthorizer
      Integration:
        Type: HTTP
        IntegrationHttpMethod: GET
        Uri: «URI»
«TLSCFG»
«PARAMS»
        IntegrationResponses:
          - StatusCode: "200"
            ResponseParameters:
«HEADERS»
«CORS»
«EXTRA»
  OrdersAuthorizer:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      RestApiId: !Ref OrdersApi
      Name: cognito
      Type: COGNITO_USER_POOLS
      IdentitySource: method.request.header.Authorization
      ProviderARNs: [!GetAtt UserPool.Arn]
  ProdStage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref OrdersApi
      StageName: prod
      DeploymentId: !Ref Deployment
«LOGS»
      MethodSettings:
        - ResourcePath: "/*"
          HttpMethod: "*"
          LoggingLevel: ERROR
«THROTTLE»
«KEYS»
`,
		slots: map[string]string{
			"PART": "orders", "AUTH": "COGNITO_USER_POOLS", "URI": "https://orders.example.com/v2/orders", "TLSCFG": "", "PARAMS": "",
			"HEADERS":  "              method.response.header.Strict-Transport-Security: \"'max-age=31536000'\"\n              method.response.header.X-Content-Type-Options: \"'nosniff'\"",
			"CORS":     "              method.response.header.Access-Control-Allow-Origin: \"'https://app.example.com'\"",
			"EXTRA":    "",
			"LOGS":     "      AccessLogSetting:\n        DestinationArn: !GetAtt AccessLogs.Arn\n        Format: '{\"requestId\":\"$context.requestId\",\"httpMethod\":\"$context.httpMethod\",\"path\":\"$context.path\",\"status\":\"$context.status\"}'",
			"THROTTLE": "          ThrottlingRateLimit: 100\n          ThrottlingBurstLimit: 200",
			"KEYS":     "",
		},
		rules: cells{
			"PAL-G001": {{"AUTH": "NONE"}, {"AUTH": "AWS_IAM"}},
			"PAL-G002": {{"URI": "http://orders.example.com/v2/orders"}, {"URI": "https://orders.example.com:8443/v2/orders"}},
			"PAL-G003": {{"TLSCFG": "        TlsConfig:\n          InsecureSkipVerification: true"}, {"TLSCFG": "        TlsConfig:\n          InsecureSkipVerification: false"}},
			"PAL-G004": {{"PARAMS": "        RequestParameters:\n          integration.request.header.x-api-key: \"'7d1f3a9c2b4e6f8a0c1d3e5f7a9b'\""}, {"PARAMS": "        RequestParameters:\n          integration.request.header.x-api-key: method.request.header.x-api-key"}},
			"PAL-G005": {{"THROTTLE": ""}, {"THROTTLE": "          ThrottlingRateLimit: 20"}},
			"PAL-G007": {{"CORS": "              method.response.header.Access-Control-Allow-Origin: \"'*'\""}, {"CORS": "              method.response.header.Access-Control-Allow-Origin: \"'https://admin.example.com'\""}},
			"PAL-G008": {{"PART": "admin"}, {"PART": "administrators-guide"}},
			"PAL-G009": {{"EXTRA": "  V1Resource:\n    Type: AWS::ApiGateway::Resource\n    Properties:\n      RestApiId: !Ref OrdersApi\n      ParentId: !GetAtt OrdersApi.RootResourceId\n      PathPart: v1\n  OrdersV1Resource:\n    Type: AWS::ApiGateway::Resource\n    Properties:\n      RestApiId: !Ref OrdersApi\n      ParentId: !Ref V1Resource\n      PathPart: orders\n  OrdersV1Get:\n    Type: AWS::ApiGateway::Method\n    Properties:\n      RestApiId: !Ref OrdersApi\n      ResourceId: !Ref OrdersV1Resource\n      HttpMethod: GET\n      AuthorizationType: AWS_IAM\n      Integration: {Type: HTTP_PROXY, IntegrationHttpMethod: GET, Uri: \"https://orders-legacy.example.com/v1/orders\"}"},
				{"EXTRA": "  InvoicesResource:\n    Type: AWS::ApiGateway::Resource\n    Properties:\n      RestApiId: !Ref OrdersApi\n      ParentId: !Ref VersionResource\n      PathPart: invoices\n  InvoicesGet:\n    Type: AWS::ApiGateway::Method\n    Properties:\n      RestApiId: !Ref OrdersApi\n      ResourceId: !Ref InvoicesResource\n      HttpMethod: GET\n      AuthorizationType: AWS_IAM\n      Integration: {Type: HTTP_PROXY, IntegrationHttpMethod: GET, Uri: \"https://invoices.example.com/v2/invoices\"}"}},
			"PAL-G010": {{"LOGS": ""}, {"LOGS": "      AccessLogSetting:\n        DestinationArn: arn:aws:logs:eu-west-1:123456789012:log-group:api-access\n        Format: '{\"requestId\":\"$context.requestId\",\"status\":\"$context.status\"}'"}},
			"PAL-G012": {{"HEADERS": ""}, {"HEADERS": "              method.response.header.strict-transport-security: \"'max-age=63072000'\"\n              method.response.header.x-content-type-options: \"'nosniff'\""}},
			"PAL-G013": {
				{"KEYS": "  PaymentsApi:\n    Type: AWS::ApiGateway::RestApi\n    Properties: {Name: payments}\n  PartnerPlan:\n    Type: AWS::ApiGateway::UsagePlan\n    Properties:\n      ApiStages:\n        - {ApiId: !Ref OrdersApi, Stage: prod}\n        - {ApiId: !Ref PaymentsApi, Stage: prod}\n      Throttle: {RateLimit: 50, BurstLimit: 100}\n  PartnerKey:\n    Type: AWS::ApiGateway::ApiKey\n    Properties: {Enabled: true}\n  PartnerPlanKey:\n    Type: AWS::ApiGateway::UsagePlanKey\n    Properties:\n      KeyId: !Ref PartnerKey\n      KeyType: API_KEY\n      UsagePlanId: !Ref PartnerPlan"},
				{"KEYS": "  PaymentsApi:\n    Type: AWS::ApiGateway::RestApi\n    Properties: {Name: payments}\n  PartnerPlan:\n    Type: AWS::ApiGateway::UsagePlan\n    Properties:\n      ApiStages:\n        - {ApiId: !Ref OrdersApi, Stage: prod}\n      Throttle: {RateLimit: 50, BurstLimit: 100}\n  PartnerKey:\n    Type: AWS::ApiGateway::ApiKey\n    Properties: {Enabled: true}\n  PartnerPlanKey:\n    Type: AWS::ApiGateway::UsagePlanKey\n    Properties:\n      KeyId: !Ref PartnerKey\n      KeyType: API_KEY\n      UsagePlanId: !Ref PartnerPlan"}},
		}}
}
