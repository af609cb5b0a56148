-- +goose Up
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    hash        BLOB NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    last_used   BIGINT,
    revoked_at  BIGINT
);

CREATE TABLE sessions (
    hash        BLOB PRIMARY KEY,
    csrf_hash   BLOB NOT NULL,
    token_id    TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE endpoints (
    id              TEXT PRIMARY KEY,
    host            TEXT NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    state           TEXT NOT NULL,
    exposure        TEXT NOT NULL,
    authentication  TEXT NOT NULL,
    sensitive       TEXT NOT NULL,   -- ",email,phone," for filtering
    risk            BIGINT NOT NULL,
    requests        BIGINT NOT NULL,
    first_seen      BIGINT,
    last_seen       BIGINT NOT NULL, -- 0 when never called
    doc             TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX endpoints_risk ON endpoints (risk DESC, id);
CREATE INDEX endpoints_requests ON endpoints (requests DESC, id);
CREATE INDEX endpoints_last_seen ON endpoints (last_seen DESC, id);
CREATE INDEX endpoints_host ON endpoints (host, risk DESC, id);
CREATE INDEX endpoints_host_requests ON endpoints (host, requests DESC, id);
CREATE INDEX endpoints_host_last_seen ON endpoints (host, last_seen DESC, id);

CREATE TABLE endpoint_traffic (
    endpoint_id TEXT NOT NULL,
    bucket      BIGINT NOT NULL, -- Unix seconds of the hour (event time)
    requests    BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, bucket)
);
CREATE INDEX endpoint_traffic_bucket ON endpoint_traffic (bucket);

CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    sev_rank     BIGINT NOT NULL,
    status       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    client_ip    TEXT NOT NULL,
    identity_id  TEXT NOT NULL,
    endpoint_key TEXT NOT NULL,
    fold_key     TEXT NOT NULL,
    owasp        TEXT NOT NULL,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    doc          TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    ip_pseudonymized BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX alerts_last_seen ON alerts (last_seen DESC, id);
CREATE INDEX alerts_severity ON alerts (sev_rank DESC, id);
CREATE INDEX alerts_status ON alerts (status, last_seen DESC, id);
CREATE INDEX alerts_type ON alerts (type, last_seen DESC, id);
CREATE INDEX alerts_client ON alerts (client_ip);
CREATE INDEX alerts_summary ON alerts (status, severity, owasp);
CREATE INDEX alerts_identity ON alerts (identity_id);
CREATE INDEX alerts_endpoint ON alerts (endpoint_key);

CREATE TABLE alert_history (
    id        INTEGER PRIMARY KEY,
    alert_id  TEXT NOT NULL,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX alert_history_alert ON alert_history (alert_id, id);

CREATE TABLE suppressions (
    fold_key   TEXT PRIMARY KEY,
    alert_id   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    suppressed BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE findings (
    id           TEXT PRIMARY KEY,
    rule         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    sev_rank     BIGINT NOT NULL,
    endpoint_key TEXT NOT NULL,
    doc          TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX findings_severity ON findings (sev_rank DESC, id);

CREATE TABLE specs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    content     BLOB NOT NULL,
    uploaded_at BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL
);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE tombstones (
    key        TEXT PRIMARY KEY, -- "ip:<hmac>" or "id:<identity id>"
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE tombstones;
DROP TABLE settings;
DROP TABLE audit_log;
DROP TABLE specs;
DROP TABLE findings;
DROP TABLE suppressions;
DROP TABLE alert_history;
DROP TABLE alerts;
DROP TABLE endpoint_traffic;
DROP TABLE endpoints;
DROP TABLE sessions;
DROP TABLE tokens;
