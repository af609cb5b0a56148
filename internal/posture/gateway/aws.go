package gateway

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/posture/yamltree"
)

// AWS API Gateway: an OpenAPI document with x-amazon-apigateway-*
// extensions (REST or HTTP API export), or a CloudFormation / SAM template
// (AWS::ApiGateway::*, AWS::ApiGatewayV2::*, AWS::Serverless::Api) whose
// RestApi/Api Body may hold such a document inline.

var awsMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "x-amazon-apigateway-any-method"}

func parseAWS(d *doc) (*Config, error) {
	cfg := &Config{File: d.file, Kind: KindAWS, Files: []string{d.file}, Pos: d.pos(d.root)}
	if get(d.root, "openapi") != nil || get(d.root, "swagger") != nil {
		awsOpenAPI(cfg, d, d.root, "")
		cfg.Notes = append(cfg.Notes, "stage settings (throttling, access logs) are not part of an OpenAPI export: rate-limit and logging rules need the stage (CloudFormation) to decide")
		for _, r := range cfg.Routes {
			r.Defaults["rate-unknown"] = "throttling is set on the stage or usage plan"
			r.Defaults["logging-unknown"] = "access logging is set on the stage"
		}
		return cfg, nil
	}
	res := get(d.root, "Resources")
	if res == nil {
		return nil, &Error{File: d.file, Line: d.root.Line, Column: d.root.Column, Msg: "neither an OpenAPI document nor a CloudFormation template with Resources"}
	}
	awsCFN(cfg, d, res)
	return cfg, nil
}

// awsOpenAPI reads one OpenAPI document with API Gateway extensions.
func awsOpenAPI(cfg *Config, d *doc, root *yamltree.Node, api string) {
	var hosts []Host
	for _, s := range items(get(root, "servers")) {
		if u := get(s, "url"); u != nil {
			b := parseBackend(u.Value, d.pos(u))
			if b.Host != "" && !strings.Contains(b.Host, "{") {
				hosts = append(hosts, Host{Value: b.Host, Pos: d.pos(u)})
			}
		}
	}
	if h := get(root, "host"); h != nil {
		hosts = append(hosts, Host{Value: strings.ToLower(h.Value), Pos: d.pos(h)})
	}
	base := strings.TrimSuffix(str(get(root, "basePath")), "/")
	if api == "" {
		api = str(path(root, "info", "title"))
	}
	schemes := map[string]*yamltree.Node{}
	pairs(path(root, "components", "securitySchemes"), func(k string, _, v *yamltree.Node) { schemes[k] = v })
	pairs(get(root, "securityDefinitions"), func(k string, _, v *yamltree.Node) { schemes[k] = v })
	global := get(root, "security")
	cors := get(root, "x-amazon-apigateway-cors")
	gwHeaders := map[string]Pos{}
	pairs(get(root, "x-amazon-apigateway-gateway-responses"), func(_ string, _, v *yamltree.Node) {
		pairs(get(v, "responseParameters"), func(k string, kn, _ *yamltree.Node) {
			if h, ok := strings.CutPrefix(k, "gatewayresponse.header."); ok {
				gwHeaders[strings.ToLower(h)] = d.pos(kn)
			}
		})
	})
	pairs(get(root, "paths"), func(p string, _, item *yamltree.Node) {
		for _, m := range awsMethods {
			op := get(item, m)
			if op == nil {
				continue
			}
			method := strings.ToUpper(m)
			if m == "x-amazon-apigateway-any-method" {
				method = ""
			}
			r := newRoute(strings.TrimSpace(method+" "+base+p), d.pos(yamltree.KeyNode(item, m)))
			r.API = api
			r.Hosts = hosts
			r.HostUnknown = len(hosts) == 0
			kind := MatchExact
			if strings.Contains(p, "{proxy+}") || strings.HasSuffix(p, "+}") {
				kind = MatchPrefix
			}
			r.Paths = []PathMatch{{Value: strings.ReplaceAll(base+p, "{proxy+}", ""), Kind: kind, Pos: d.pos(yamltree.KeyNode(get(root, "paths"), p))}}
			if kind == MatchExact {
				r.Paths[0].Value = base + p
			}
			if method != "" {
				r.Methods = []string{method}
			}
			integ := get(op, "x-amazon-apigateway-integration")
			awsIntegration(cfg, d, r, integ)
			sec := get(op, "security")
			if sec == nil {
				sec = global
			}
			for _, alt := range items(sec) {
				if alt.Kind == yamltree.MappingNode && len(alt.Content) == 0 {
					pp := Policy{Kind: "security {} (anonymous alternative)", Pos: d.pos(alt)}
					r.AuthOff = &pp
					continue
				}
				pairs(alt, func(k string, kn, _ *yamltree.Node) {
					kind := "authorizer " + k
					if s := schemes[k]; s != nil {
						if t := str(get(s, "x-amazon-apigateway-authtype")); t != "" {
							kind += " (" + t + ")"
						} else if str(get(s, "type")) == "apiKey" {
							kind += " (API key)"
						}
					}
					r.Auth = append(r.Auth, Policy{Kind: kind, Pos: d.pos(kn)})
				})
			}
			if cors != nil {
				r.CORS = append(r.CORS, CORS{Origins: strs(get(cors, "allowOrigins")), Credentials: yamltree.IsTrue(get(cors, "allowCredentials")), Pos: d.pos(cors)})
			}
			for k, v := range gwHeaders {
				r.Headers[k] = v
			}
			pairs(path(integ, "responses"), func(_ string, _, resp *yamltree.Node) {
				pairs(get(resp, "responseParameters"), func(k string, kn, v *yamltree.Node) {
					if h, ok := strings.CutPrefix(k, "method.response.header."); ok {
						r.Headers[strings.ToLower(h)] = d.pos(kn)
						if strings.EqualFold(h, "Access-Control-Allow-Origin") {
							r.CORS = append(r.CORS, CORS{Origins: []string{strings.Trim(v.Value, "'")}, Pos: d.pos(v)})
						}
					}
				})
			})
			if yamltree.IsTrue(get(op, "deprecated")) {
				r.Deprecated = &Policy{Kind: "deprecated: true", Pos: d.pos(get(op, "deprecated"))}
			}
			r.SizeLimit = []Policy{{Kind: "payload limit", Detail: "10 MB (API Gateway hard limit)", Pos: r.Pos, Inherited: "default"}}
			r.Defaults["size"] = "API Gateway rejects payloads above 10 MB"
			if method == "OPTIONS" && str(get(integ, "type")) == "mock" {
				continue // CORS preflight answered by the gateway
			}
			cfg.Routes = append(cfg.Routes, r)
		}
	})
}

func awsIntegration(cfg *Config, d *doc, r *Route, integ *yamltree.Node) {
	if integ == nil {
		return
	}
	t := strings.ToLower(str(get(integ, "type")))
	if t == "" {
		t = strings.ToLower(str(get(integ, "Type")))
	}
	uriN := get(integ, "uri")
	if uriN == nil {
		uriN = get(integ, "Uri")
	}
	if uriN == nil {
		uriN = get(integ, "IntegrationUri")
	}
	uri := str(uriN)
	switch {
	case t == "http" || t == "http_proxy":
		b := parseBackend(uri, d.pos(uriN))
		if uriN != nil && uriN.Kind != yamltree.ScalarNode {
			b = Backend{URL: "(CloudFormation expression)", Pos: d.pos(uriN)}
		}
		tc := get(integ, "tlsConfig")
		if tc == nil {
			tc = get(integ, "TlsConfig")
		}
		skip := get(tc, "insecureSkipVerification")
		if skip == nil {
			skip = get(tc, "InsecureSkipVerification")
		}
		if b.Scheme == "https" {
			if yamltree.IsTrue(skip) {
				b.TLSVerify, b.VerifyPos = "off", d.pos(skip)
			} else {
				b.TLSVerify = "on"
			}
		}
		r.Backends = append(r.Backends, b)
	case t == "mock":
	default:
		if uri != "" {
			r.Backends = append(r.Backends, Backend{URL: uri, Scheme: "aws", Pos: d.pos(uriN)})
		}
	}
	if t == "http_proxy" || t == "aws_proxy" {
		r.Defaults["headers-backend"] = "proxy integrations return the backend's headers"
	}
	for _, resp := range items(get(integ, "IntegrationResponses")) {
		pairs(get(resp, "ResponseParameters"), func(k string, kn, v *yamltree.Node) {
			if h, ok := strings.CutPrefix(k, "method.response.header."); ok {
				r.Headers[strings.ToLower(h)] = d.pos(kn)
				if strings.EqualFold(h, "Access-Control-Allow-Origin") {
					r.CORS = append(r.CORS, CORS{Origins: []string{strings.Trim(v.Value, "'")}, Pos: d.pos(v)})
				}
				if strings.EqualFold(h, "Access-Control-Allow-Credentials") && strings.Trim(v.Value, "'") == "true" {
					for i := range r.CORS {
						r.CORS[i].Credentials = true
					}
				}
			}
		})
	}
	for _, k := range []string{"requestParameters", "RequestParameters"} {
		pairs(get(integ, k), func(name string, _, v *yamltree.Node) {
			val := strings.Trim(str(v), "'")
			if !strings.HasPrefix(str(v), "'") {
				return // mapped from the method request, not a literal
			}
			h := name[strings.LastIndexByte(name, '.')+1:]
			if strings.EqualFold(h, "authorization") && bearerLiteral(val) {
				cfg.Secrets = append(cfg.Secrets, Secret{What: "integration parameter " + name, Redacted: redactValue(val), Pos: d.pos(v)})
			} else if w, ok := inlineSecret(h, val); ok {
				cfg.Secrets = append(cfg.Secrets, Secret{What: "integration parameter " + name + " (" + w + ")", Redacted: redactValue(val), Pos: d.pos(v)})
			}
		})
	}
}

// cfnRef returns the logical id a !Ref / !GetAtt / {"Ref": x} names.
func cfnRef(n *yamltree.Node) string {
	if n == nil {
		return ""
	}
	switch n.Tag {
	case "!Ref":
		return n.Value
	case "!GetAtt":
		if n.Kind == yamltree.ScalarNode {
			return strings.SplitN(n.Value, ".", 2)[0]
		}
		if it := items(n); len(it) > 0 {
			return it[0].Value
		}
	}
	if r := get(n, "Ref"); r != nil {
		return r.Value
	}
	if g := get(n, "Fn::GetAtt"); g != nil {
		if g.Kind == yamltree.ScalarNode {
			return strings.SplitN(g.Value, ".", 2)[0]
		}
		if it := items(g); len(it) > 0 {
			return it[0].Value
		}
	}
	return ""
}

type cfnRes struct {
	id    string
	typ   string
	n     *yamltree.Node
	props *yamltree.Node
}

func awsCFN(cfg *Config, d *doc, resNode *yamltree.Node) {
	all := map[string]cfnRes{}
	var order []cfnRes
	pairs(resNode, func(id string, _, v *yamltree.Node) {
		r := cfnRes{id: id, typ: str(get(v, "Type")), n: v, props: get(v, "Properties")}
		all[id] = r
		order = append(order, r)
	})
	// Stage-level settings per API: throttling and access logs.
	type stageInfo struct {
		rate []Policy
		logs []Policy
	}
	stages := map[string]*stageInfo{}
	stageOf := func(api string) *stageInfo {
		if stages[api] == nil {
			stages[api] = &stageInfo{}
		}
		return stages[api]
	}
	readStage := func(api string, p *yamltree.Node, pos Pos) {
		si := stageOf(api)
		for _, ms := range items(get(p, "MethodSettings")) {
			if v := get(ms, "ThrottlingRateLimit"); v != nil {
				si.rate = append(si.rate, Policy{Kind: "stage throttling", Detail: v.Value + " rps", Pos: d.pos(v)})
			}
		}
		for _, k := range []string{"DefaultRouteSettings"} {
			if v := path(p, k, "ThrottlingRateLimit"); v != nil {
				si.rate = append(si.rate, Policy{Kind: "stage throttling", Detail: v.Value + " rps", Pos: d.pos(v)})
			}
		}
		for _, k := range []string{"AccessLogSetting", "AccessLogSettings"} {
			if v := get(p, k); v != nil {
				format := str(get(v, "Format"))
				si.logs = append(si.logs, Policy{Kind: "access log", Detail: str(get(v, "DestinationArn")), Pos: d.pos(v), Ingestible: strings.HasPrefix(strings.TrimSpace(format), "{")})
			}
		}
		_ = pos
	}
	usageKeys := map[string][]string{} // usage plan -> apis
	for _, r := range order {
		p := r.props
		switch r.typ {
		case "AWS::ApiGateway::Stage", "AWS::ApiGatewayV2::Stage":
			api := cfnRef(get(p, "RestApiId"))
			if api == "" {
				api = cfnRef(get(p, "ApiId"))
			}
			readStage(api, p, d.pos(r.n))
		case "AWS::ApiGateway::Deployment":
			if sd := get(p, "StageDescription"); sd != nil {
				readStage(cfnRef(get(p, "RestApiId")), sd, d.pos(sd))
			}
		case "AWS::Serverless::Api":
			readStage(r.id, p, d.pos(r.n))
		case "AWS::ApiGateway::UsagePlan":
			if v := path(p, "Throttle", "RateLimit"); v != nil {
				for _, s := range items(get(p, "ApiStages")) {
					api := cfnRef(get(s, "ApiId"))
					stageOf(api).rate = append(stageOf(api).rate, Policy{Kind: "usage plan throttle", Detail: v.Value + " rps", Pos: d.pos(v)})
				}
			}
			for _, s := range items(get(p, "ApiStages")) {
				usageKeys[r.id] = append(usageKeys[r.id], cfnRef(get(s, "ApiId")))
			}
		case "AWS::ApiGateway::ApiKey":
			if v := get(p, "Value"); v != nil && v.Kind == yamltree.ScalarNode && !isReference(v.Value) && !isPlaceholder(v.Value) {
				cfg.Secrets = append(cfg.Secrets, Secret{What: "API key " + r.id + " value", Redacted: redactValue(v.Value), Pos: d.pos(v)})
			}
		}
	}
	apis := map[string]bool{}
	for _, r := range order {
		if r.typ == "AWS::ApiGateway::RestApi" || r.typ == "AWS::ApiGatewayV2::Api" || r.typ == "AWS::Serverless::Api" || r.typ == "AWS::Serverless::HttpApi" {
			apis[r.id] = true
		}
	}
	// Keys scoped to every API: a usage plan covering all APIs of the template.
	for _, r := range order {
		if r.typ != "AWS::ApiGateway::UsagePlanKey" {
			continue
		}
		plan := cfnRef(get(r.props, "UsagePlanId"))
		covered := map[string]bool{}
		for _, a := range usageKeys[plan] {
			covered[a] = true
		}
		all := len(apis) > 1
		for a := range apis {
			if !covered[a] {
				all = false
			}
		}
		c := &Consumer{Name: cfnRef(get(r.props, "KeyId")), Pos: d.pos(r.n), Scope: "usage plan " + plan, ScopePos: d.pos(get(r.props, "UsagePlanId"))}
		c.AllAPIs = all
		cfg.Consumers = append(cfg.Consumers, c)
	}
	before := 0
	finish := func(api string) {
		si := stages[api]
		for _, r := range cfg.Routes[before:] {
			if si != nil {
				r.RateLimit = append(r.RateLimit, si.rate...)
				r.Logging = append(r.Logging, si.logs...)
			}
		}
		before = len(cfg.Routes)
	}
	for _, r := range order {
		p := r.props
		switch r.typ {
		case "AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api", "AWS::Serverless::Api", "AWS::Serverless::HttpApi":
			body := get(p, "Body")
			if body == nil {
				body = get(p, "DefinitionBody")
			}
			if body != nil && body.Kind == yamltree.MappingNode {
				awsOpenAPI(cfg, d, body, r.id)
			} else if get(p, "BodyS3Location") != nil || get(p, "DefinitionUri") != nil {
				cfg.Notes = append(cfg.Notes, fmt.Sprintf("%s: API %s is defined in S3, not read", d.pos(r.n), r.id))
			}
			if c := get(p, "CorsConfiguration"); c != nil {
				for _, rt := range cfg.Routes[before:] {
					rt.CORS = append(rt.CORS, CORS{Origins: strs(get(c, "AllowOrigins")), Credentials: yamltree.IsTrue(get(c, "AllowCredentials")), Pos: d.pos(c)})
				}
			}
			finish(r.id)
		}
	}
	// REST API resources and methods.
	pathOf := func(resID string) string {
		var segs []string
		for i := 0; i < 64 && resID != ""; i++ {
			res, ok := all[resID]
			if !ok || res.typ != "AWS::ApiGateway::Resource" {
				break
			}
			segs = append([]string{str(get(res.props, "PathPart"))}, segs...)
			resID = cfnRef(get(res.props, "ParentId"))
		}
		return "/" + strings.Join(segs, "/")
	}
	preflight := map[string][]CORS{}
	byResource := map[string][]*Route{}
	defer func() {
		for res, cs := range preflight {
			for _, rt := range byResource[res] {
				rt.CORS = append(rt.CORS, cs...)
			}
		}
	}()
	gwHeaders := map[string]Pos{}
	for _, r := range order {
		if r.typ == "AWS::ApiGateway::GatewayResponse" {
			pairs(get(r.props, "ResponseParameters"), func(k string, kn, _ *yamltree.Node) {
				if h, ok := strings.CutPrefix(k, "gatewayresponse.header."); ok {
					gwHeaders[strings.ToLower(h)] = d.pos(kn)
				}
			})
		}
	}
	_ = gwHeaders
	for _, r := range order {
		p := r.props
		switch r.typ {
		case "AWS::ApiGateway::Method":
			method := strings.ToUpper(str(get(p, "HttpMethod")))
			pth := pathOf(cfnRef(get(p, "ResourceId")))
			rt := newRoute(r.id, d.pos(r.n))
			rt.API = cfnRef(get(p, "RestApiId"))
			rt.HostUnknown = true
			kind := MatchExact
			if strings.Contains(pth, "{proxy+}") {
				kind, pth = MatchPrefix, strings.ReplaceAll(pth, "{proxy+}", "")
			}
			rt.Paths = []PathMatch{{Value: pth, Kind: kind, Pos: d.pos(get(p, "ResourceId"))}}
			if method != "ANY" && method != "" {
				rt.Methods = []string{method}
			}
			authorizationType(d, rt, get(p, "AuthorizationType"))
			if k := get(p, "ApiKeyRequired"); yamltree.IsTrue(k) {
				rt.Auth = append(rt.Auth, Policy{Kind: "ApiKeyRequired", Pos: d.pos(k)})
				rt.AuthOff = nil
			}
			awsIntegration(cfg, d, rt, get(p, "Integration"))
			rt.SizeLimit = []Policy{{Kind: "payload limit", Detail: "10 MB (API Gateway hard limit)", Pos: rt.Pos, Inherited: "default"}}
			if method == "OPTIONS" && strings.EqualFold(str(path(p, "Integration", "Type")), "MOCK") {
				// CORS preflight answered by the gateway: its headers
				// are the CORS policy of the resource's methods.
				preflight[cfnRef(get(p, "ResourceId"))] = append(preflight[cfnRef(get(p, "ResourceId"))], rt.CORS...)
				continue
			}
			byResource[cfnRef(get(p, "ResourceId"))] = append(byResource[cfnRef(get(p, "ResourceId"))], rt)
			if si := stages[rt.API]; si != nil {
				rt.RateLimit = append(rt.RateLimit, si.rate...)
				rt.Logging = append(rt.Logging, si.logs...)
			}
			cfg.Routes = append(cfg.Routes, rt)
		case "AWS::ApiGatewayV2::Route":
			key := str(get(p, "RouteKey"))
			method, pth, _ := strings.Cut(key, " ")
			rt := newRoute(r.id, d.pos(r.n))
			rt.API = cfnRef(get(p, "ApiId"))
			rt.HostUnknown = true
			kind := MatchExact
			if strings.Contains(pth, "{proxy+}") || key == "$default" {
				kind, pth = MatchPrefix, strings.ReplaceAll(pth, "{proxy+}", "")
			}
			if pth == "" {
				pth = "/"
			}
			rt.Paths = []PathMatch{{Value: pth, Kind: kind, Pos: d.pos(get(p, "RouteKey"))}}
			if method != "ANY" && method != "$default" && method != "" {
				rt.Methods = []string{strings.ToUpper(method)}
			}
			authorizationType(d, rt, get(p, "AuthorizationType"))
			if t := get(p, "Target"); t != nil {
				id := ""
				if s := str(t); strings.HasPrefix(s, "integrations/") {
					id = strings.TrimPrefix(s, "integrations/")
				}
				// !Join ["/", ["integrations", !Ref X]]
				var find func(n *yamltree.Node, depth int)
				find = func(n *yamltree.Node, depth int) {
					if n == nil || depth > 6 || id != "" {
						return
					}
					if ref := cfnRef(n); ref != "" {
						id = ref
						return
					}
					for _, c := range n.Content {
						find(c, depth+1)
					}
				}
				find(t, 0)
				if in, ok := all[id]; ok {
					awsIntegration(cfg, d, rt, in.props)
				}
			}
			rt.SizeLimit = []Policy{{Kind: "payload limit", Detail: "10 MB (API Gateway hard limit)", Pos: rt.Pos, Inherited: "default"}}
			if si := stages[rt.API]; si != nil {
				rt.RateLimit = append(rt.RateLimit, si.rate...)
				rt.Logging = append(rt.Logging, si.logs...)
			}
			cfg.Routes = append(cfg.Routes, rt)
		case "AWS::Serverless::Function":
			pairs(get(p, "Events"), func(name string, _, ev *yamltree.Node) {
				t := str(get(ev, "Type"))
				if t != "Api" && t != "HttpApi" {
					return
				}
				ep := get(ev, "Properties")
				rt := newRoute(r.id+" "+name, d.pos(ev))
				rt.API = cfnRef(get(ep, "RestApiId"))
				if rt.API == "" {
					rt.API = cfnRef(get(ep, "ApiId"))
				}
				rt.HostUnknown = true
				rt.Paths = []PathMatch{{Value: str(get(ep, "Path")), Kind: MatchExact, Pos: d.pos(get(ep, "Path"))}}
				if m := strings.ToUpper(str(get(ep, "Method"))); m != "" && m != "ANY" {
					rt.Methods = []string{m}
				}
				rt.Backends = []Backend{{URL: "Lambda " + r.id, Scheme: "aws", Pos: d.pos(r.n)}}
				auth := path(ep, "Auth", "Authorizer")
				apiRes := all[rt.API]
				def := path(apiRes.props, "Auth", "DefaultAuthorizer")
				switch {
				case auth != nil && strings.EqualFold(auth.Value, "NONE"):
					pp := Policy{Kind: "Authorizer NONE", Pos: d.pos(auth)}
					rt.AuthOff = &pp
				case auth != nil:
					rt.Auth = append(rt.Auth, Policy{Kind: "authorizer " + auth.Value, Pos: d.pos(auth)})
				case def != nil:
					rt.Auth = append(rt.Auth, Policy{Kind: "default authorizer " + def.Value, Pos: d.pos(def), Inherited: "api"})
				}
				if k := path(ep, "Auth", "ApiKeyRequired"); yamltree.IsTrue(k) {
					rt.Auth = append(rt.Auth, Policy{Kind: "ApiKeyRequired", Pos: d.pos(k)})
				}
				rt.SizeLimit = []Policy{{Kind: "payload limit", Detail: "10 MB (API Gateway hard limit)", Pos: rt.Pos, Inherited: "default"}}
				if si := stages[rt.API]; si != nil {
					rt.RateLimit = append(rt.RateLimit, si.rate...)
					rt.Logging = append(rt.Logging, si.logs...)
				}
				cfg.Routes = append(cfg.Routes, rt)
			})
		}
	}
	// Secrets anywhere in resource properties (e.g. authorizer secrets).
	for _, r := range order {
		yamltree.Walk(r.props, func(keys []string, v *yamltree.Node) bool {
			key := yamltree.Last(keys)
			switch key {
			case "Body", "DefinitionBody", "RequestParameters", "requestParameters":
				return false // read above, with their own rules
			}
			if v.Kind != yamltree.ScalarNode {
				return true
			}
			if v.Tag == "!Ref" || v.Tag == "!Sub" || v.Tag == "!GetAtt" || key == "Value" && r.typ == "AWS::ApiGateway::ApiKey" {
				return false
			}
			if w, ok := inlineSecret(key, v.Value); ok {
				cfg.Secrets = append(cfg.Secrets, Secret{What: r.id + " " + key + " (" + w + ")", Redacted: redactValue(v.Value), Pos: d.pos(v)})
			}
			return false
		})
	}
}

// authorizationType applies a method's or route's AuthorizationType.
func authorizationType(d *doc, rt *Route, at *yamltree.Node) {
	if v := strings.ToUpper(str(at)); v != "" && v != "NONE" {
		rt.Auth = append(rt.Auth, Policy{Kind: "AuthorizationType " + v, Pos: d.pos(at)})
	} else if at != nil {
		pp := Policy{Kind: "AuthorizationType NONE", Pos: d.pos(at)}
		rt.AuthOff = &pp
	}
}
