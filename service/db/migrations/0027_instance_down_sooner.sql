-- InstanceDown fires within 30 s of an outage: between rounds the monitor probes a down
-- instance again every 4 s (service/monitoring/monitor.py), so the 10 s are the round's probe
-- and two or three rechecks, all failed. The built-in rule's `for` goes from 30 s to 10 s; a
-- value an operator set is kept.
UPDATE rules SET for_seconds = 10, updated_at = now()
WHERE name = 'InstanceDown' AND builtin AND for_seconds = 30;
