-- Which worker ran an operation: set by every claim and kept when the operation ends
-- (lease_owner is cleared then), so operators and tests can see how work spread across
-- service processes. NULL: never claimed, or done by the request itself (warm pool).
ALTER TABLE operations ADD COLUMN worker text CHECK (worker IS NULL OR length(worker) <= 200);
