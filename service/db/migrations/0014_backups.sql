-- Backups, restore and clone (issue 10). A backup is a file in the service's store
-- (encrypted with the service's key); its row says where, how big and the SHA-256 of the
-- plaintext. `completed` is written only after the file is in the store under its final
-- name, so a listed completed backup always has its whole file.
CREATE TABLE backups (
    id text PRIMARY KEY CHECK (id ~ '^b-[a-z0-9]{6,40}$'),
    -- No foreign key: a final backup outlives its instance's row (retention purges it).
    instance_id text NOT NULL,
    owner_id bigint NOT NULL REFERENCES users (id),
    engine text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    format text NOT NULL CHECK (format IN ('sql.gz', 'rdb')),
    size_bytes bigint CHECK (size_bytes >= 0),
    sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    path text,
    scheduled boolean NOT NULL DEFAULT false,
    final boolean NOT NULL DEFAULT false,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    deleted_at timestamptz,
    CHECK (status <> 'completed' OR (size_bytes IS NOT NULL AND sha256 IS NOT NULL AND path IS NOT NULL))
);
CREATE INDEX backups_instance ON backups (instance_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX backups_owner ON backups (owner_id) WHERE deleted_at IS NULL;

ALTER TABLE operations DROP CONSTRAINT operations_kind_check;
ALTER TABLE operations ADD CONSTRAINT operations_kind_check
    CHECK (kind IN ('create', 'delete', 'repair', 'stop', 'start', 'restart', 'reconfigure', 'rotate',
                    'backup', 'restore'));
-- A backup's or restore's operation names its backup (params.backup_id): found by it.
CREATE INDEX operations_backup ON operations ((params->>'backup_id')) WHERE params ? 'backup_id';

ALTER TABLE instances ADD COLUMN backup_policy jsonb;
ALTER TABLE users ADD COLUMN quota_backup_mb bigint CHECK (quota_backup_mb >= 0);
