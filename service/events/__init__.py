"""The events domain: what happened, as recorded (GET /api/v1/events) and as it happens
(GET /api/v1/events/stream, a WebSocket or Server-Sent Events fed through one LISTEN
connection per process: hub.py)."""
