"""Telling users when their instances change: signed webhook deliveries and the event
stream (WebSocket or Server-Sent Events) fed by PostgreSQL LISTEN/NOTIFY."""
