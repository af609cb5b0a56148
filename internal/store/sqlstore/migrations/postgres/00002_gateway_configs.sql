-- +goose Up
-- PostgreSQL twin of ../sqlite/00002_gateway_configs.sql.
CREATE TABLE gateway_configs (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,
    sha256      TEXT COLLATE "C" NOT NULL,
    content     BYTEA NOT NULL,
    uploaded_at BIGINT NOT NULL,
    uploaded_by TEXT COLLATE "C" NOT NULL
);

-- +goose Down
DROP TABLE gateway_configs;
