-- Plans (service/plans/plans.yml): the plan an instance was created on or changed to (NULL:
-- custom settings, no plan), and an admin's run-time switch of a plan's availability for new
-- instances (no row: plans.yml's `available` holds). Service broker instances and bindings are
-- recorded in 0024.
ALTER TABLE instances ADD COLUMN plan text CHECK (plan IS NULL OR plan ~ '^[a-z0-9-]{1,32}$');

CREATE TABLE plan_availability (
    engine     text NOT NULL,
    plan       text NOT NULL CHECK (plan ~ '^[a-z0-9-]{1,32}$'),
    available  boolean NOT NULL,
    updated_by bigint REFERENCES users (id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (engine, plan)
);
