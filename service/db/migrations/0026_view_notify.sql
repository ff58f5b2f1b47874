-- What the read routes show of an instance changed: pg_notify on channel dbvend_views with the
-- instance's id ('*': something every instance shows, a host's address or state). Every
-- service process listens and drops what it had cached of that instance ('d:<id>': only its
-- detail shows the change: a sample or an alert)
-- (service/api/view_cache.py). Sent by PostgreSQL itself in the transaction of the change,
-- so every writer (API, worker, monitoring, recovery, a hand-written UPDATE) is covered and a
-- rolled-back change announces nothing. Updates that change nothing shown are silent: a
-- health check touching hosts.last_check must not empty every cache.

CREATE FUNCTION dbvend_view_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text;
BEGIN
    IF TG_TABLE_NAME = 'hosts' THEN
        changed := '*';
    ELSIF TG_TABLE_NAME = 'instances' THEN
        changed := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
    ELSE  -- samples, alerts: shown in the instance's detail only ('d:' tells the pages apart)
        changed := 'd:' || CASE WHEN TG_OP = 'DELETE' THEN OLD.instance_id ELSE NEW.instance_id END;
    END IF;
    IF changed IS NOT NULL THEN
        PERFORM pg_notify('dbvend_views', changed);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER instances_view_insert_delete AFTER INSERT OR DELETE ON instances
    FOR EACH ROW EXECUTE FUNCTION dbvend_view_changed();
CREATE TRIGGER instances_view_update AFTER UPDATE ON instances
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION dbvend_view_changed();

CREATE TRIGGER samples_view_insert AFTER INSERT ON samples
    FOR EACH ROW EXECUTE FUNCTION dbvend_view_changed();

CREATE TRIGGER alerts_view_insert_delete AFTER INSERT OR DELETE ON alerts
    FOR EACH ROW EXECUTE FUNCTION dbvend_view_changed();
CREATE TRIGGER alerts_view_update AFTER UPDATE ON alerts
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.severity IS DISTINCT FROM NEW.severity
                       OR OLD.starts_at IS DISTINCT FROM NEW.starts_at
                       OR OLD.annotations IS DISTINCT FROM NEW.annotations
                       OR OLD.instance_id IS DISTINCT FROM NEW.instance_id)
    EXECUTE FUNCTION dbvend_view_changed();

CREATE TRIGGER hosts_view_change AFTER INSERT OR DELETE ON hosts
    FOR EACH ROW EXECUTE FUNCTION dbvend_view_changed();
CREATE TRIGGER hosts_view_update AFTER UPDATE ON hosts
    FOR EACH ROW WHEN (OLD.address IS DISTINCT FROM NEW.address
                       OR OLD.state IS DISTINCT FROM NEW.state
                       OR OLD.in_inventory IS DISTINCT FROM NEW.in_inventory)
    EXECUTE FUNCTION dbvend_view_changed();
