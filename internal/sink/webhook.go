package sink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// Webhook headers.
const (
	HeaderSignature = "X-Palisade-Signature"
	HeaderTimestamp = "X-Palisade-Timestamp"
	HeaderDelivery  = "X-Palisade-Delivery"
)

// WebhookPayload is the JSON body of one webhook POST: a batch of alerts.
type WebhookPayload struct {
	Source string        `json:"source"` // "palisade"
	Alerts []model.Alert `json:"alerts"`
}

// Webhook POSTs batches of alerts as JSON, signed with HMAC-SHA256.
type Webhook struct {
	name   string
	url    string
	secret []byte
	header http.Header
	client *http.Client
	now    func() time.Time
}

// NewWebhook returns a webhook sink. secret may be empty (no signature).
func NewWebhook(name, url string, secret []byte, header http.Header, client *http.Client) *Webhook {
	if client == nil {
		client = &http.Client{}
	}
	return &Webhook{name: name, url: url, secret: secret, header: header, client: client, now: time.Now}
}

// Name of the sink.
func (w *Webhook) Name() string { return w.name }

// Send POSTs one batch.
func (w *Webhook) Send(ctx context.Context, alerts []model.Alert) error {
	body, err := model.EncodeJSON(WebhookPayload{Source: "palisade", Alerts: alerts})
	if err != nil {
		return Permanent(fmt.Errorf("encoding alerts: %w", err))
	}
	now := w.now()
	h := http.Header{}
	for k, vs := range w.header {
		h[k] = vs
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "palisade-webhook/1")
	ts := strconv.FormatInt(now.Unix(), 10)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderDelivery, deliveryID(alerts))
	if len(w.secret) > 0 {
		h.Set(HeaderSignature, SignWebhook(w.secret, ts, body))
	}
	return postHTTP(ctx, w.client, w.url, body, h, now)
}

// deliveryID is stable across retries of the same batch, so a receiver can
// de-duplicate.
func deliveryID(alerts []model.Alert) string {
	m := sha256.New()
	for _, a := range alerts {
		m.Write([]byte(a.ID))
		m.Write([]byte{0})
		m.Write([]byte(a.LastSeen.UTC().Format(time.RFC3339Nano)))
		m.Write([]byte{0})
		m.Write([]byte(strconv.FormatInt(a.Count, 10)))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// SignWebhook returns the X-Palisade-Signature value for a body sent at the
// given timestamp (Unix seconds, as in X-Palisade-Timestamp): "sha256=" and
// the hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret.
func SignWebhook(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifyWebhook checks a received webhook: the signature must match and the
// timestamp must be within tolerance of now (replay protection). Receivers
// written in Go can use it as is.
func VerifyWebhook(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%s: not a Unix time: %q", HeaderTimestamp, clip(timestamp, 32))
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%s: %s away from now, outside the tolerance of %s", HeaderTimestamp, d.Round(time.Second), tolerance)
	}
	if !strings.HasPrefix(signature, "sha256=") {
		return errors.New(HeaderSignature + `: missing "sha256=" prefix`)
	}
	want := SignWebhook(secret, timestamp, body)
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return errors.New(HeaderSignature + ": does not match the body")
	}
	return nil
}
