-- Accounts: per-user quota overrides (NULL = the configured default) and disabling.
ALTER TABLE users
    ADD COLUMN quota_instances integer CHECK (quota_instances >= 0),
    ADD COLUMN quota_memory_mb integer CHECK (quota_memory_mb >= 0),
    ADD COLUMN disabled_at     timestamptz;

-- The quota check sums a user's live instances inside the create transaction.
CREATE INDEX instances_owner_live ON instances (owner_id) WHERE deleted_at IS NULL;
