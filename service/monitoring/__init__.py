"""Monitoring: the gateway collector (middleware), the instance collector (collect.yml +
engine probes), reconciliation, alert rules and their lifecycle, notifications, and the
Prometheus exposition. Everything lands in the same PostgreSQL (service/db)."""
