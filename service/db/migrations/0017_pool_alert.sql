-- The warm pool (issue 11, docs/pool.md): each host's configured pool (inventory
-- dbvend_pool, written by hosts.sync: {"redis": {"192": 4}}), and the built-in PoolEmpty
-- rule, firing for a configured pool class of an up, undrained host with no ready slot
-- for its `for` duration (creates then take the cold path, seconds instead of milliseconds).
ALTER TABLE hosts ADD COLUMN pool jsonb NOT NULL DEFAULT '{}';

INSERT INTO rules (name, condition, threshold, params, for_seconds, keep_firing_for_seconds, severity, description, builtin)
VALUES
    ('PoolEmpty', 'pool_empty', NULL, '{}', 300, 0, 'warning',
     'A configured warm pool (host, engine, size class) has had no ready slot for 5 minutes: creates take the slow cold path.', true)
ON CONFLICT (name) DO NOTHING;
