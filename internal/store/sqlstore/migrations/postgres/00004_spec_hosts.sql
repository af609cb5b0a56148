-- +goose Up
-- PostgreSQL twin of ../sqlite/00004_spec_hosts.sql.
-- Hosts a spec applies to when its servers name none (POST /api/v1/specs?host=).
ALTER TABLE specs ADD COLUMN hosts TEXT COLLATE "C" NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE specs DROP COLUMN hosts;
