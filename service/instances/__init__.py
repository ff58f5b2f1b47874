"""The instances domain: where an instance is created (service.py: from a warm pool slot,
warm.py, or recorded for a worker, intake.py), read (with its health), changed by a day-2
action (stop, start, restart, settings, plan, password, restore: day2.py) and deleted;
its routes, its shapes and this process's cache of rendered reads."""
