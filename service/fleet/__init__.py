"""The fleet domain: the Docker hosts of the inventory, their load and health (a periodic
check, health.py and docker_ping.py), an operator's drain, and reading the inventory again;
the cleanups a host owes run when it answers."""
