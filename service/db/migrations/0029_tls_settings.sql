-- TLS (issue 23): every instance and pool slot recorded before TLS existed says so in its
-- settings (tls: off), as it runs: only new instances get DBVEND_TLS_DEFAULT (shipped:
-- required). The engines read a record without the key as off too; this makes it explicit.
UPDATE instances SET settings = settings || '{"tls": "off"}'::jsonb WHERE NOT settings ? 'tls';
UPDATE pool_slots SET settings = settings || '{"tls": "off"}'::jsonb WHERE NOT settings ? 'tls';

-- rotate-certificate: a new certificate for an instance, reloaded live (renewal at two
-- thirds of its life, POST /instances/{id}/rotate-certificate, a CA rotation).
ALTER TABLE operations DROP CONSTRAINT operations_kind_check;
ALTER TABLE operations ADD CONSTRAINT operations_kind_check
    CHECK (kind IN ('create', 'delete', 'repair', 'stop', 'start', 'restart', 'reconfigure', 'rotate',
                    'backup', 'restore', 'converge', 'bind', 'unbind', 'rotate-certificate'));
