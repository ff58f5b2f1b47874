"""The backup domain: taking backup requests and deleting backups, reading and downloading
them, schedules (scheduler.py) and their policy. The files themselves are kept by
service/backupstore; a restore is a day-2 action of the instance (service/instances)."""
