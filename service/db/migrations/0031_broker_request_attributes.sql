-- OSB 2.17 judges a repeated provision or bind on every attribute of its request: identical is
-- 200 (202 while in progress), different is 409. `request` keeps what it kept (an instance's
-- service_id, plan_id and parameters; a binding's service_id, app_guid and bind_resource);
-- these columns keep the rest. NULL: a row made before this migration, whose request did not
-- record it, so a repeat of it is not judged on that attribute.
ALTER TABLE broker_instances
    ADD COLUMN organization_guid text CHECK (length(organization_guid) BETWEEN 1 AND 200),
    ADD COLUMN space_guid        text CHECK (length(space_guid) BETWEEN 1 AND 200),
    ADD COLUMN context           jsonb;

ALTER TABLE broker_bindings
    ADD COLUMN plan_id text CHECK (length(plan_id) BETWEEN 1 AND 200),
    ADD COLUMN context jsonb;
