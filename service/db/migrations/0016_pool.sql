-- The warm pool (issue 11): tenant-less containers Ansible starts ahead of demand, per host,
-- engine and size class (memory_mb). A slot's id is the id of the instance that will claim it
-- (i-...), so its container (dbvend-<id>), directory and labels are already the instance's and
-- a claim never touches Docker. Life: warming (a refill run deploys it) -> ready -> claiming
-- (a create re-keys it over the engine's protocol; back to ready if that process dies before
-- the instance is recorded) -> claimed (an instance row with the same id exists), or broken
-- (the pool keeper destroys its container, then deletes the row).
CREATE TABLE pool_slots (
    id text PRIMARY KEY CHECK (id ~ '^i-[a-z0-9]{8}$'),
    host text NOT NULL REFERENCES hosts (name),
    engine text NOT NULL,
    memory_mb integer NOT NULL CHECK (memory_mb > 0),
    port integer NOT NULL,
    status text NOT NULL DEFAULT 'warming'
        CHECK (status IN ('warming', 'ready', 'claiming', 'claimed', 'broken')),
    -- SecretBox-sealed {"password", "admin_password"}: the throwaway application password the
    -- slot was deployed with and the admin secret a claim re-keys it with.
    secrets bytea NOT NULL,
    -- The settings the slot was deployed with (the class's defaults).
    settings jsonb NOT NULL,
    -- What Ansible reported when it deployed the slot (returned to the claiming instance).
    facts jsonb,
    error text,
    -- Who holds a warming (refill run) or claiming (create) slot, and until when.
    lease_owner text,
    lease_expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    ready_at timestamptz,
    claimed_at timestamptz
);
-- A claim's question: a ready slot of this engine and class, on which host.
CREATE INDEX pool_slots_ready ON pool_slots (engine, memory_mb, host) WHERE status = 'ready';

-- A slot holds its port like an instance: exactly one of instance_id, slot_id, blocked_until.
ALTER TABLE port_claims ADD COLUMN slot_id text UNIQUE REFERENCES pool_slots (id);
ALTER TABLE port_claims DROP CONSTRAINT port_claims_check;
ALTER TABLE port_claims ADD CONSTRAINT port_claims_one_holder CHECK (
    (instance_id IS NOT NULL)::int + (slot_id IS NOT NULL)::int + (blocked_until IS NOT NULL)::int = 1
);

-- converge: after a claim, Ansible records the instance's files as the role would write them.
ALTER TABLE operations DROP CONSTRAINT operations_kind_check;
ALTER TABLE operations ADD CONSTRAINT operations_kind_check
    CHECK (kind IN ('create', 'delete', 'repair', 'stop', 'start', 'restart', 'reconfigure', 'rotate',
                    'backup', 'restore', 'converge'));
