-- Fleet: a host's health (state up/down, from the periodic check) is kept apart from the
-- operator's intent (draining); work left on a host that died waits in host_cleanups
-- until the host answers again; leader_leases let one process run each periodic job.

ALTER TABLE hosts ADD COLUMN draining boolean NOT NULL DEFAULT false;
ALTER TABLE hosts ADD COLUMN server_version text;

CREATE TABLE host_cleanups (
    host         text NOT NULL REFERENCES hosts(name),
    instance_id  text NOT NULL REFERENCES instances(id),
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, instance_id)
);

CREATE TABLE leader_leases (
    name        text PRIMARY KEY,
    owner       text NOT NULL,
    expires_at  timestamptz NOT NULL
);
