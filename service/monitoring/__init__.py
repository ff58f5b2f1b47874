"""The monitoring domain: the gateway collector (middleware) and the event recorder, the
instance collector (targets, probes, the collect.yml read, samples), reconciliation, alert
rules (conditions, checks) and their lifecycle, notifications (payloads, delivery, webhook
signing, the egress policy), instance health, and the Prometheus exposition; its routes
(alerts, rules, webhooks, samples, /metrics) and its service. Everything lands in the same
PostgreSQL (service/db)."""
