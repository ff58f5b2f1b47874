-- Instance events (issue 9, "telling users"): an outbox written by PostgreSQL itself, in
-- the transaction of the change that causes the event, so every path that changes an
-- operation or an instance (worker, recovery, a future kind, a hand-written UPDATE) emits
-- it, and a crash cannot lose one or emit one for a change that was rolled back.
--
-- Each event is also queued as a delivery for every webhook subscribed to instance events
-- that may see it (an admin's: all; a user's: the user's instances), and announced with
-- pg_notify on channel dbvend_events (commit-time, every service process listens).

CREATE TABLE instance_events (
    id            bigserial PRIMARY KEY,
    type          text NOT NULL CHECK (type ~ '^instance\.[a-z_]{1,40}\Z'),
    instance_id   text NOT NULL,          -- no foreign key: events outlive pruned instances
    owner_id      bigint NOT NULL,        -- the instance's owner, who may see the event
    status        text NOT NULL,          -- the instance's status when the change committed
    operation_id  text,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instance_events_owner ON instance_events (owner_id, id);
CREATE INDEX instance_events_at ON instance_events (at);

-- What a webhook receives: alerts (Alertmanager v4 payloads, as before), instance events or
-- both; and its signing secret (Fernet-encrypted by the service; NULL for a webhook made
-- before this migration, whose deliveries stay unsigned).
ALTER TABLE webhooks
    ADD COLUMN events text[] NOT NULL DEFAULT '{alerts}'
        CHECK (cardinality(events) BETWEEN 1 AND 2 AND events <@ '{alerts,instances}'::text[]),
    ADD COLUMN secret bytea;

-- The one JSON shape of an event (the stream, its replay and webhooks all use it).
CREATE FUNCTION dbvend_event_json(e instance_events) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('id', e.id, 'type', e.type, 'instance_id', e.instance_id,
                              'status', e.status, 'at', e.at, 'operation_id', e.operation_id)
$$;

CREATE FUNCTION dbvend_emit_instance_event(p_type text, p_instance text, p_operation text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ev instance_events;
    body jsonb;
BEGIN
    INSERT INTO instance_events (type, instance_id, owner_id, status, operation_id)
        SELECT p_type, i.id, i.owner_id, i.status, p_operation FROM instances i WHERE i.id = p_instance
        RETURNING * INTO ev;
    IF ev.id IS NULL THEN
        RETURN;
    END IF;
    body := dbvend_event_json(ev);
    INSERT INTO deliveries (webhook_id, target, payload, max_attempts)
        SELECT w.id, w.url, body, 8 FROM webhooks w JOIN users u ON u.id = w.owner_id
        WHERE w.deleted_at IS NULL AND 'instances' = ANY (w.events)
          AND (u.is_admin OR w.owner_id = ev.owner_id);
    PERFORM pg_notify('dbvend_events',
        jsonb_build_object('kind', 'instance', 'owner_id', ev.owner_id, 'event', body)::text);
END $$;

-- Operations: accepted creates, and each kind's success. Deferred to commit, so the status
-- recorded is the instance's final one in that transaction (the worker finishes the
-- operation and then sets the instance's status). A rotate's grace-period follow-up
-- (params.phase = expire) is silent: the rotation was announced when it took effect.
CREATE FUNCTION dbvend_operation_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind_type text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.kind = 'create' THEN
            PERFORM dbvend_emit_instance_event('instance.created', NEW.instance_id, NEW.id);
        END IF;
        RETURN NULL;
    END IF;
    kind_type := CASE NEW.kind
        WHEN 'create' THEN 'instance.running'
        WHEN 'delete' THEN 'instance.deleted'
        WHEN 'stop' THEN 'instance.stopped'
        WHEN 'start' THEN 'instance.started'
        WHEN 'restart' THEN 'instance.restarted'
        WHEN 'reconfigure' THEN 'instance.settings_changed'
        WHEN 'rotate' THEN CASE WHEN coalesce(NEW.params->>'phase', '') = 'expire' THEN NULL
                                ELSE 'instance.password_rotated' END
        ELSE NULL  -- repair: the instance stays running; a failed one is announced below
    END;
    IF kind_type IS NOT NULL THEN
        PERFORM dbvend_emit_instance_event(kind_type, NEW.instance_id, NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER operations_instance_event_insert
    AFTER INSERT ON operations DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.kind = 'create')
    EXECUTE FUNCTION dbvend_operation_event();
CREATE CONSTRAINT TRIGGER operations_instance_event_success
    AFTER UPDATE OF status ON operations DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.status = 'succeeded' AND OLD.status IS DISTINCT FROM 'succeeded')
    EXECUTE FUNCTION dbvend_operation_event();

-- Instances: becoming failed, whatever did it; the operation is the instance's latest.
CREATE FUNCTION dbvend_instance_failed_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dbvend_emit_instance_event('instance.failed', NEW.id,
        (SELECT o.id FROM operations o WHERE o.instance_id = NEW.id ORDER BY o.created_at DESC LIMIT 1));
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER instances_failed_event
    AFTER UPDATE OF status ON instances DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed')
    EXECUTE FUNCTION dbvend_instance_failed_event();

-- Alerts on the stream (live only; webhooks get alerts through the notifier as before):
-- each change of an alert's status is announced with the owner of its instance (NULL for
-- an alert about the service or a host: administrators only).
CREATE FUNCTION dbvend_alert_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dbvend_events', jsonb_build_object(
        'kind', 'alert',
        'owner_id', (SELECT i.owner_id FROM instances i WHERE i.id = NEW.instance_id),
        'event', jsonb_build_object('type', 'alert', 'id', NEW.id, 'rule', NEW.rule,
            'status', NEW.status, 'severity', NEW.severity, 'instance_id', NEW.instance_id,
            'fingerprint', NEW.fingerprint, 'at', NEW.updated_at))::text);
    RETURN NULL;
END $$;

CREATE TRIGGER alerts_notify_insert AFTER INSERT ON alerts
    FOR EACH ROW EXECUTE FUNCTION dbvend_alert_notify();
CREATE TRIGGER alerts_notify_status AFTER UPDATE OF status ON alerts
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION dbvend_alert_notify();
