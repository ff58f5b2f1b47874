-- The Open Service Broker API (service/broker): a platform's service instance and binding ids
-- mapped to dbvend's instances and per-binding credentials, with the request that made them
-- (an identical repeat is 200, a different one 409) and the platform's originating identity.
-- The instances themselves are ordinary rows owned by the broker's account.
CREATE TABLE broker_instances (
    osb_id           text PRIMARY KEY CHECK (length(osb_id) BETWEEN 1 AND 200),
    instance_id      text NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    service_id       text NOT NULL,
    plan_id          text NOT NULL,
    request          jsonb NOT NULL,
    identity         jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);

CREATE TABLE broker_bindings (
    osb_id           text PRIMARY KEY CHECK (length(osb_id) BETWEEN 1 AND 200),
    instance_osb_id  text NOT NULL REFERENCES broker_instances (osb_id) ON DELETE CASCADE,
    credential_name  text NOT NULL,
    request          jsonb NOT NULL,
    identity         jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);
CREATE INDEX broker_bindings_instance ON broker_bindings (instance_osb_id) WHERE deleted_at IS NULL;

-- Which platform user asked for each operation the broker queued (X-Broker-API-Originating-Identity).
CREATE TABLE broker_operations (
    operation_id     text PRIMARY KEY REFERENCES operations (id) ON DELETE CASCADE,
    osb_instance_id  text NOT NULL,
    osb_binding_id   text,
    identity         jsonb,
    created_at       timestamptz NOT NULL DEFAULT now()
);
