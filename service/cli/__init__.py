"""`dbvend`, the command-line client. It talks to the public /api/v1 API over HTTP only:
nothing here imports the server's code (an import-linter contract in pyproject.toml)."""
