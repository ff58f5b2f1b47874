-- Backups stored on another inventory host (DBVEND_BACKUP_HOST): where a backup's
-- encrypted file lives, recorded with the backup, so changing the setting later never loses
-- track of files already stored. Both NULL: the service's local store (DBVEND_BACKUP_DIR).
ALTER TABLE backups ADD COLUMN store_host text
    CHECK (store_host IS NULL OR store_host ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$');
ALTER TABLE backups ADD COLUMN store_dir text
    CHECK (store_dir IS NULL OR (store_dir ~ '^/' AND length(store_dir) <= 1024));
ALTER TABLE backups ADD CONSTRAINT backups_store_both
    CHECK ((store_host IS NULL) = (store_dir IS NULL));
