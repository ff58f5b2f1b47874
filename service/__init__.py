"""dbvend: real MySQL and Redis instances on request."""
