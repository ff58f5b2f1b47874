-- Backup schedules (service/backups/scheduler.py): the built-in BackupFailing rule raises an
-- alert for an instance whose newest finished scheduled backup failed; it resolves when a
-- later scheduled backup completes. The schedule itself is instances.backup_policy (0014).
INSERT INTO rules (name, condition, threshold, params, for_seconds, keep_firing_for_seconds, severity, description, builtin)
VALUES
    ('BackupFailing', 'backup_failing', NULL, '{}', 0, 0, 'critical',
     'The newest scheduled backup of the instance failed; it resolves when a later scheduled backup completes.', true)
ON CONFLICT (name) DO NOTHING;

-- The schedule's questions: the newest scheduled backup per instance (due times, BackupFailing).
CREATE INDEX backups_scheduled_instance ON backups (instance_id, created_at DESC) WHERE scheduled;
