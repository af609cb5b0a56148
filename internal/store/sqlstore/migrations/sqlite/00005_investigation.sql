-- +goose Up
-- Per-subject activity summaries (attacker view), merged at checkpoints.
CREATE TABLE subjects (
    kind        TEXT NOT NULL,   -- client | identity
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    requests    BIGINT NOT NULL, -- total of the hourly buckets in doc
    peer_oldest BIGINT NOT NULL, -- oldest last_seen of a peer (retention)
    doc         TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX subjects_last_seen ON subjects (last_seen DESC, kind, id);
CREATE INDEX subjects_kind_last_seen ON subjects (kind, last_seen DESC, id);

-- The endpoints of each stored subject (its summary's endpoints), so that an
-- endpoint's callers can be listed.
CREATE TABLE subject_endpoints (
    endpoint_key TEXT NOT NULL,  -- "METHOD host/path"
    kind         TEXT NOT NULL,
    id           TEXT NOT NULL,
    requests     BIGINT NOT NULL,
    errors       BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    PRIMARY KEY (endpoint_key, kind, id)
);
CREATE INDEX subject_endpoints_subject ON subject_endpoints (kind, id);

-- Triage of posture findings (findings themselves are replaced at each
-- snapshot; their triage state and history are kept here).
CREATE TABLE finding_triage (
    finding_id   TEXT PRIMARY KEY,
    rule         TEXT NOT NULL,
    endpoint_key TEXT NOT NULL,
    status       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    expires_at   BIGINT NOT NULL, -- accepted risk: end of the acceptance
    fixed_clock  BIGINT NOT NULL, -- fixed: event clock when marked fixed
    doc          TEXT NOT NULL,   -- the finding as it was last seen
    updated_at   BIGINT NOT NULL
);
CREATE INDEX finding_triage_status ON finding_triage (status);

CREATE TABLE finding_history (
    id          INTEGER PRIMARY KEY,
    finding_id  TEXT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    reason      TEXT NOT NULL
);
CREATE INDEX finding_history_finding ON finding_history (finding_id, id);

-- Probes and API changes of the latest snapshot.
CREATE TABLE probes (
    id       TEXT PRIMARY KEY,
    host     TEXT NOT NULL,
    method   TEXT NOT NULL,
    path     TEXT NOT NULL,
    requests BIGINT NOT NULL,
    reason   TEXT NOT NULL
);
CREATE INDEX probes_requests ON probes (requests DESC, id);

CREATE TABLE api_changes (
    id           TEXT PRIMARY KEY,
    at           BIGINT NOT NULL,
    endpoint_key TEXT NOT NULL,
    doc          TEXT NOT NULL
);
CREATE INDEX api_changes_at ON api_changes (at DESC, id);

-- +goose Down
DROP TABLE api_changes;
DROP TABLE probes;
DROP TABLE finding_history;
DROP TABLE finding_triage;
DROP TABLE subject_endpoints;
DROP TABLE subjects;
