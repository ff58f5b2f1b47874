"""The backup domain: taking backup and restore requests, schedules and their policy. The
files themselves are kept by service/backupstore."""
