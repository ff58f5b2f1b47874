-- InstanceDown fires within 30 s of an outage: between rounds the monitor probes a down
-- instance again every 5 s (service/monitoring/monitor.py), so three failed probes in a row
-- span 10 s. The built-in rule's `for` goes from 30 s to 10 s; a value an operator set is kept.
UPDATE rules SET for_seconds = 10, updated_at = now()
WHERE name = 'InstanceDown' AND builtin AND for_seconds = 30;
