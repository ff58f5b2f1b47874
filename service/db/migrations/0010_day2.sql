-- Day-2 operations on existing instances (issue 9): each is an operation kind of its own.
ALTER TABLE operations DROP CONSTRAINT operations_kind_check;
ALTER TABLE operations ADD CONSTRAINT operations_kind_check
    CHECK (kind IN ('create', 'delete', 'repair', 'stop', 'start', 'restart', 'reconfigure', 'rotate'));
