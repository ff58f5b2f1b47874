-- Lease fencing: every claim of an operation bumps lease_generation; a worker writes a
-- result only while (lease_owner, lease_generation) are still the ones it claimed with,
-- so a worker that was paused past its lease cannot act on what it finds when it wakes.
ALTER TABLE operations ADD COLUMN lease_generation bigint NOT NULL DEFAULT 0;

-- Cleanups that failed are retried in the background with a backoff; after the bounded
-- attempts a cleanup is 'failed' (shown to admins) and still holds the instance's port
-- claim, so the host's committed memory keeps counting the container that is still there.
ALTER TABLE host_cleanups ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE host_cleanups ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE host_cleanups ADD COLUMN last_error text;
ALTER TABLE host_cleanups ADD COLUMN status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'failed'));

-- Retention (service/db/retention.py) walks these in small batches.
CREATE INDEX operations_finished ON operations (finished_at) WHERE status IN ('succeeded', 'failed');
CREATE INDEX instances_deleted ON instances (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX api_tokens_expires ON api_tokens (expires_at);
