package source

import (
	"fmt"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// Format of a followed file.
type Format string

// Formats understood by Tail and NewLineParser.
const (
	FormatNDJSON Format = "ndjson" // exchange-v1 records
	FormatNGINX  Format = "nginx"  // NGINX log_format … escape=json
	FormatEnvoy  Format = "envoy"  // Envoy / Istio JSON access log
)

// nginxFields maps NGINX variable names (the JSON keys of the recommended
// log_format, which are the variable names without '$') to targets. Keys
// named http_<header> and sent_http_<header> are request and response
// headers automatically.
var nginxFields = map[string]string{
	"time_iso8601":    TTimeEnd,
	"msec":            TTimeEpoch,
	"time_local":      TTimeLocal,
	"remote_addr":     TClient,
	"remote_port":     TClientPort,
	"request_method":  TMethod,
	"request":         TRequestLine,
	"scheme":          TScheme,
	"https":           THTTPS,
	"host":            THost,
	"server_port":     TServerPort,
	"request_uri":     TURI,
	"status":          TStatus,
	"body_bytes_sent": TRespSize,
	"content_length":  TReqSize,
	"request_length":  TReqLength,
	"request_time":    TDurationS,
	"request_body":    TReqBody,
	"content_type":    prefixReqHdr + "content-type",
	// Known variables without a use in an exchange record.
	"bytes_sent": TIgnore, "server_protocol": TIgnore, "upstream_addr": TIgnore, "upstream_status": TIgnore,
	"upstream_response_time": TIgnore, "upstream_connect_time": TIgnore, "upstream_header_time": TIgnore,
	"request_id": TIgnore, "server_name": TIgnore, "connection": TIgnore,
	"connection_requests": TIgnore, "pipe": TIgnore, "ssl_protocol": TIgnore, "ssl_cipher": TIgnore,
	"remote_user": TIgnore, "uri": TIgnore, "args": TIgnore, "query_string": TIgnore, "document_uri": TIgnore,
}

// envoyFields maps the keys of Envoy's documented default JSON format
// (and Istio's underscore variants) to targets.
var envoyFields = map[string]string{
	"start_time":                        TTimeRFC3339,
	"method":                            TMethod,
	"path":                              TURI,
	"x-envoy-original-path":             TOriginalURI,
	"x_envoy_original_path":             TOriginalURI,
	"authority":                         THost,
	"scheme":                            TScheme,
	"x-forwarded-proto":                 TScheme,
	"x_forwarded_proto":                 TScheme,
	"response_code":                     TStatus,
	"bytes_received":                    TReqSize,
	"bytes_sent":                        TRespSize,
	"duration":                          TDurationMs,
	"downstream_remote_address":         TClient,
	"user-agent":                        prefixReqHdr + "user-agent",
	"user_agent":                        prefixReqHdr + "user-agent",
	"x-forwarded-for":                   prefixReqHdr + "x-forwarded-for",
	"x_forwarded_for":                   prefixReqHdr + "x-forwarded-for",
	"request_id":                        prefixReqHdr + "x-request-id",
	"referer":                           prefixReqHdr + "referer",
	"content-type":                      prefixReqHdr + "content-type",
	"authorization":                     prefixReqHdr + "authorization",
	"protocol":                          TIgnore,
	"response_flags":                    TIgnore,
	"upstream_host":                     TIgnore,
	"upstream_cluster":                  TIgnore,
	"upstream_service_time":             TIgnore,
	"upstream_local_address":            TIgnore,
	"upstream_transport_failure_reason": TIgnore,
	"downstream_local_address":          TIgnore,
	"requested_server_name":             TIgnore,
	"route_name":                        TIgnore,
	"response_code_details":             TIgnore,
	"connection_termination_details":    TIgnore,
}

// LineOptions configure a JSON access-log line parser.
type LineOptions struct {
	// FieldMap adds or overrides key → target mappings (see the T*
	// constants, "request.header.<name>", "response.header.<name>", or an
	// Envoy command such as "%REQ(X-API-KEY)%"). An Envoy json_format
	// object can be used as is.
	FieldMap map[string]string
	// DefaultScheme is used when the line carries no scheme [http].
	DefaultScheme string
	// Source names the sensor in the records (exchange "source").
	Source string
}

// LineParser parses access-log lines of one format into records.
type LineParser struct {
	format Format
	p      *lineParser
}

// NewLineParser returns a parser for format (ndjson, nginx or envoy).
func NewLineParser(format Format, o LineOptions) (*LineParser, error) {
	lp := &LineParser{format: format}
	var err error
	switch format {
	case FormatNDJSON:
		if len(o.FieldMap) > 0 {
			return nil, fmt.Errorf("field map: not used with format ndjson")
		}
	case FormatNGINX:
		lp.p, err = newLineParser(nginxFields, o.FieldMap, o.DefaultScheme, o.Source, true)
	case FormatEnvoy:
		lp.p, err = newLineParser(envoyFields, o.FieldMap, o.DefaultScheme, o.Source, false)
	default:
		return nil, fmt.Errorf("format: want ndjson, nginx or envoy, got %q", format)
	}
	if err != nil {
		return nil, err
	}
	return lp, nil
}

// Parse decodes one line. Errors are *exchange.FieldError when a field is
// at fault (Field names the log key), plain errors otherwise.
func (lp *LineParser) Parse(line []byte) (*exchange.Record, error) {
	if lp.format == FormatNDJSON {
		return exchange.DecodeRecord(line)
	}
	return lp.p.parse(line)
}
