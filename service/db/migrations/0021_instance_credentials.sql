-- Extra credentials of an instance (issue 12, bindings): one more database user each,
-- made and removed one by one by the bind and unbind operations, never the application
-- account. `sealed` holds the password (SecretBox, like instances.secrets). A removed one
-- keeps its row (removed_at) so its operations still name it; the name is unique among the
-- others of its instance.
CREATE TABLE instance_credentials (
    id           text PRIMARY KEY CHECK (length(id) <= 40),
    instance_id  text NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    username     text NOT NULL CHECK (username ~ '^b_[a-z0-9]{12}$'),
    sealed       bytea NOT NULL,
    status       text NOT NULL CHECK (status IN ('creating', 'active', 'deleting', 'failed')),
    -- No foreign key: retention removes old finished operations while the credential lives on.
    operation_id text NOT NULL,
    error        text CHECK (error IS NULL OR length(error) <= 2000),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    removed_at   timestamptz
);
CREATE UNIQUE INDEX instance_credentials_name ON instance_credentials (instance_id, name)
    WHERE removed_at IS NULL;
CREATE UNIQUE INDEX instance_credentials_username ON instance_credentials (instance_id, username);

ALTER TABLE operations DROP CONSTRAINT operations_kind_check;
ALTER TABLE operations ADD CONSTRAINT operations_kind_check
    CHECK (kind IN ('create', 'delete', 'repair', 'stop', 'start', 'restart', 'reconfigure', 'rotate',
                    'backup', 'restore', 'converge', 'bind', 'unbind'));
