-- Samples say which container they saw (a restart count belongs to one container: a new
-- container starts again from zero) and how much disk the instance's directory on the
-- host uses. host_samples: the data root's filesystem per Docker host, per collection
-- round. Two built-in rules on them.

ALTER TABLE samples ADD COLUMN container_id text;
ALTER TABLE samples ADD COLUMN disk_bytes bigint;   -- <data root>/<instance id>, allocated blocks

CREATE TABLE host_samples (
    id           bigserial PRIMARY KEY,
    host         text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    data_root    text NOT NULL,
    total_bytes  bigint,
    free_bytes   bigint,                 -- available to unprivileged users (statvfs f_bavail)
    error        text
);
CREATE INDEX host_samples_host_at ON host_samples (host, at DESC);
CREATE INDEX host_samples_at ON host_samples (at);

INSERT INTO rules (name, condition, threshold, params, for_seconds, keep_firing_for_seconds, severity, description, builtin)
VALUES
    ('HostDataRootFilling', 'host_data_root_free_below', 0.1, '{"min_free_mb": 1024}', 60, 300, 'warning',
     'The filesystem of a Docker host''s data root has less than the threshold (a fraction) of its size free, or less than params.min_free_mb.', true),
    ('InstanceDiskLarge', 'value_above', 10737418240, '{"metric": "disk_bytes"}', 300, 0, 'warning',
     'The instance''s directory on its Docker host uses more than the threshold in bytes.', true)
ON CONFLICT (name) DO NOTHING;
