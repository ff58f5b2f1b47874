"""The warm pool's keeper (issue 11, docs/pool.md): tenant-less containers per host, engine
and size class kept deployed through Ansible (keeper.py), and what /metrics says of them
(metrics.py). A create claims a slot and re-keys it over the engine's own protocol in the
instances domain (service/instances/warm.py)."""
