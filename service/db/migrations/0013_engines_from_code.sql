-- Which engines exist is service/engines' to say (a new engine is a module there and a
-- role); the API refuses unknown names before anything is recorded.
ALTER TABLE instances DROP CONSTRAINT instances_engine_check;
ALTER TABLE instances ADD CONSTRAINT instances_engine_name CHECK (engine ~ '^[a-z][a-z0-9_]{0,30}$');
