-- +goose Up
-- Third-party APIs our services call (the report's outbound[]), one row
-- per host. Their operations are no longer endpoints: the first snapshot
-- after this migration removes endpoint rows of hosts it lists here.
CREATE TABLE outbound_apis (
    id          TEXT PRIMARY KEY,
    host        TEXT NOT NULL UNIQUE,
    destination TEXT NOT NULL,   -- external | internal
    api10       BIGINT NOT NULL, -- severity rank of the API10 relevance, -1 when not relevant
    requests    BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    doc         TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX outbound_api10 ON outbound_apis (api10 DESC, id);
CREATE INDEX outbound_requests ON outbound_apis (requests DESC, id);
CREATE INDEX outbound_last_seen ON outbound_apis (last_seen DESC, id);

-- +goose Down
DROP TABLE outbound_apis;
