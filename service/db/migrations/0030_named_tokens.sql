-- Tokens a user makes for scripts and CI (POST /api/v1/me/tokens), beside the tokens of
-- logins: an id to list and revoke them by (never the token or its digest), and the name
-- the user gave (NULL: a login's token).
ALTER TABLE api_tokens ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_id_key UNIQUE (id);
ALTER TABLE api_tokens ADD COLUMN name text
    CHECK (name IS NULL OR (length(name) BETWEEN 1 AND 64 AND name !~ '[[:cntrl:]]'));
