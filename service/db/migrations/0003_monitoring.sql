-- Monitoring: one store for what the gateway, the instance collector and the alerting
-- see. events (what happened), samples (per instance, per collection round),
-- request_minutes (API traffic per minute, for error rates across processes), rules,
-- alerts + alert_history, webhooks + deliveries. Retention (DBVEND_RETENTION_DAYS) prunes
-- events, samples, request_minutes, deliveries and resolved alerts in the background.

-- Reconciliation queues a 'repair' (re-run provision.yml for a running instance whose
-- container stopped); at most one open repair per instance.
ALTER TABLE operations DROP CONSTRAINT operations_kind_check;
ALTER TABLE operations ADD CONSTRAINT operations_kind_check CHECK (kind IN ('create', 'delete', 'repair'));
CREATE UNIQUE INDEX operations_one_open_repair ON operations (instance_id)
    WHERE kind = 'repair' AND status IN ('pending', 'running');

CREATE TABLE events (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    kind         text NOT NULL,            -- server_error, auth_failure, slow_request, ...
    severity     text NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'critical')),
    source       text NOT NULL CHECK (source IN ('gateway', 'collector', 'worker', 'alerts')),
    instance_id  text,                     -- set when the event concerns one instance
    subject      text,                     -- what rules group by: client address, route, ...
    message      text NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb   -- never secrets, bodies or headers
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_kind_at ON events (kind, at);
CREATE INDEX events_instance_at ON events (instance_id, at) WHERE instance_id IS NOT NULL;

CREATE TABLE samples (
    id                  bigserial PRIMARY KEY,
    instance_id         text NOT NULL,
    at                  timestamptz NOT NULL DEFAULT now(),
    container_status    text NOT NULL,     -- running, restarting, exited, created, paused, dead, missing, unknown
    up                  boolean NOT NULL,  -- container running and the engine answered its admin account
    restart_count       integer,
    restarts            integer NOT NULL DEFAULT 0,   -- since the previous sample
    oom_killed          boolean NOT NULL DEFAULT false,
    started_at          timestamptz,
    memory_bytes        bigint,
    memory_limit_bytes  bigint,
    cpu_percent         double precision,
    cpu_usage_ns        bigint,            -- cumulative container CPU, for the next round's cpu_percent
    system_usage_ns     bigint,
    online_cpus         integer,
    engine              jsonb NOT NULL DEFAULT '{}'::jsonb,  -- engine metrics (see service/monitoring/probes.py)
    error               text
);
CREATE INDEX samples_instance_at ON samples (instance_id, at DESC);
CREATE INDEX samples_at ON samples (at);

CREATE TABLE request_minutes (
    minute    timestamptz PRIMARY KEY,
    requests  bigint NOT NULL DEFAULT 0,
    errors    bigint NOT NULL DEFAULT 0    -- 5xx
);

CREATE TABLE rules (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z][A-Za-z0-9_]{0,62}$'),
    condition        text NOT NULL,        -- a kind from service/monitoring/conditions.py
    threshold        double precision,
    params           jsonb NOT NULL DEFAULT '{}'::jsonb,
    for_seconds      integer NOT NULL DEFAULT 0 CHECK (for_seconds >= 0),
    keep_firing_for_seconds integer NOT NULL DEFAULT 0 CHECK (keep_firing_for_seconds >= 0),
    severity         text NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
    labels           jsonb NOT NULL DEFAULT '{}'::jsonb,
    description      text NOT NULL DEFAULT '',
    enabled          boolean NOT NULL DEFAULT true,
    builtin          boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

INSERT INTO rules (name, condition, threshold, params, for_seconds, keep_firing_for_seconds, severity, description, builtin)
VALUES
    ('InstanceDown', 'instance_down', NULL, '{}', 30, 0, 'critical',
     'The container is not running or the engine does not answer its admin account.', true),
    ('InstanceRestarted', 'instance_restarted', 1, '{}', 0, 300, 'warning',
     'The container restarted (crash, kill, OOM) since the previous collection round.', true),
    ('ContainerOOMKilled', 'container_oom_killed', NULL, '{}', 0, 300, 'critical',
     'The kernel killed the container for exceeding its memory limit.', true),
    ('RedisMemoryHigh', 'ratio_above', 0.9, '{"metric": "redis_memory"}', 60, 0, 'warning',
     'used_memory is above the threshold of maxmemory.', true),
    ('MysqlConnectionsHigh', 'ratio_above', 0.8, '{"metric": "mysql_connections"}', 60, 0, 'warning',
     'Threads_connected is above the threshold of max_connections.', true),
    ('ApiErrorRateHigh', 'api_error_rate', 0.05, '{"window": 300, "min_requests": 20}', 0, 0, 'critical',
     'More than the threshold of API requests answered 5xx over the window.', true),
    ('AuthFailureBurst', 'auth_failure_burst', 20, '{"window": 60}', 0, 60, 'warning',
     'At least threshold failed authentications from one client address within the window.', true),
    ('ProvisioningFailing', 'provisioning_failing', 1, '{"window": 900}', 0, 0, 'critical',
     'An operation on the instance (create, delete, repair) failed for good within the window.', true);

-- One open alert (pending, firing, acknowledged) per fingerprint; resolved ones are history.
CREATE TABLE alerts (
    id               bigserial PRIMARY KEY,
    rule_id          bigint REFERENCES rules(id) ON DELETE SET NULL,
    rule             text NOT NULL,
    fingerprint      text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'firing', 'acknowledged', 'resolved')),
    severity         text NOT NULL,
    labels           jsonb NOT NULL,
    annotations      jsonb NOT NULL DEFAULT '{}'::jsonb,
    instance_id      text,
    value            double precision,
    pending_since    timestamptz NOT NULL,
    starts_at        timestamptz,          -- when it fired
    ends_at          timestamptz,          -- when it resolved
    last_true_at     timestamptz NOT NULL, -- last evaluation that found the condition true
    acknowledged_by  text,
    acknowledged_at  timestamptz,
    comment          text,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alerts_open_fingerprint ON alerts (fingerprint) WHERE status <> 'resolved';
CREATE INDEX alerts_open_rule ON alerts (rule_id) WHERE status <> 'resolved';
CREATE INDEX alerts_instance ON alerts (instance_id, id DESC) WHERE instance_id IS NOT NULL;
CREATE INDEX alerts_status_id ON alerts (status, id DESC);
CREATE INDEX alerts_ends_at ON alerts (ends_at) WHERE status = 'resolved';

CREATE TABLE alert_history (
    id          bigserial PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    status      text NOT NULL,
    actor       text,                      -- who acknowledged; NULL for the evaluator
    comment     text,
    value       double precision
);
CREATE INDEX alert_history_alert ON alert_history (alert_id, id);

CREATE TABLE webhooks (
    id             bigserial PRIMARY KEY,
    owner_id       bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    url            text NOT NULL,
    send_resolved  boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);
CREATE INDEX webhooks_owner ON webhooks (owner_id) WHERE deleted_at IS NULL;

-- Every notification: to a webhook (webhook_id) or to Alertmanager (webhook_id NULL).
CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    webhook_id      bigint REFERENCES webhooks(id) ON DELETE CASCADE,
    target          text NOT NULL,         -- the URL posted to
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    payload         jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL DEFAULT 6,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    response_status integer,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_created ON deliveries (created_at);
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id DESC);
