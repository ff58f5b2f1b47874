"""Deploying what the API recorded: runner, worker, recovery."""
