-- Day-2 operations (issue 9). A rotation's new credentials (or, for the removal of a
-- password after its grace period, the old ones), sealed with the service's SecretBox like
-- instances.secrets; cleared when the operation ends. operations.params never holds them.
ALTER TABLE operations ADD COLUMN sealed bytea;
