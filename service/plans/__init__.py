"""The plans domain: named sizes per engine (plans.yml, catalog.py), which of them take new
instances (an admin's switch, stored in PostgreSQL), and their routes. The REST API and the
service broker resolve a request through the same plans (service.py)."""
