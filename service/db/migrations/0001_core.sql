-- dbvend core schema: users and tokens, Docker hosts, instances, port claims, operations.

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z][a-z0-9_.-]{1,62}$'),
    password_hash text NOT NULL,
    is_admin      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE hosts (
    name          text PRIMARY KEY,
    address       text NOT NULL,
    port_min      integer NOT NULL,
    port_max      integer NOT NULL CHECK (port_max >= port_min),
    capacity_mb   integer NOT NULL CHECK (capacity_mb >= 0),
    data_root     text NOT NULL,
    state         text NOT NULL DEFAULT 'up' CHECK (state IN ('up', 'down', 'draining')),
    reason        text,
    last_check    timestamptz,
    in_inventory  boolean NOT NULL DEFAULT true,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE instances (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    engine      text NOT NULL CHECK (engine IN ('mysql', 'redis')),
    owner_id    bigint NOT NULL REFERENCES users(id),
    status      text NOT NULL CHECK (status IN ('provisioning', 'running', 'deleting', 'failed', 'stopped', 'deleted')),
    settings    jsonb NOT NULL,
    memory_mb   integer NOT NULL CHECK (memory_mb > 0),
    host        text NOT NULL REFERENCES hosts(name),
    port        integer NOT NULL,
    username    text NOT NULL,
    secrets     bytea NOT NULL,           -- Fernet-encrypted JSON: password, admin_password
    facts       jsonb NOT NULL DEFAULT '{}'::jsonb,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
CREATE UNIQUE INDEX instances_owner_name ON instances (owner_id, name) WHERE deleted_at IS NULL;
CREATE INDEX instances_owner_list ON instances (owner_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX instances_host_live ON instances (host) WHERE deleted_at IS NULL;

-- One row per port taken on a host: by an instance, or blocked because something else
-- listens there. The primary key is what makes concurrent placement safe.
CREATE TABLE port_claims (
    host          text NOT NULL REFERENCES hosts(name),
    port          integer NOT NULL,
    instance_id   text UNIQUE REFERENCES instances(id),
    blocked_until timestamptz,
    reason        text,
    claimed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, port),
    CHECK ((instance_id IS NULL) <> (blocked_until IS NULL))
);

CREATE TABLE operations (
    id               text PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('create', 'delete')),
    instance_id      text NOT NULL REFERENCES instances(id),
    requested_by     bigint REFERENCES users(id),
    params           jsonb NOT NULL DEFAULT '{}'::jsonb,   -- never secrets
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 3,
    not_before       timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,
    lease_expires_at timestamptz,
    error            text,
    facts            jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX operations_open ON operations (created_at) WHERE status IN ('pending', 'running');
CREATE INDEX operations_instance ON operations (instance_id, created_at);
