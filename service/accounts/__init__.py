"""The accounts domain: users (quotas, the disabled mark, passwords behind a guessing brake),
bearer tokens and the middleware that checks them, and the accounts dbvend makes itself
(the first admin, the broker's)."""
