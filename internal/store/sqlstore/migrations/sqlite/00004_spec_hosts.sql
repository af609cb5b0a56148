-- +goose Up
-- Hosts a spec applies to when its servers name none (POST /api/v1/specs?host=).
ALTER TABLE specs ADD COLUMN hosts TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE specs DROP COLUMN hosts;
