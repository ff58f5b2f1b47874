"""The warm pool (issue 11, docs/pool.md): tenant-less containers per host, engine and size
class that the keeper (keeper.py) keeps deployed through Ansible, and that a create claims
(claim.py) and re-keys over the engine's own protocol instead of running a playbook."""
