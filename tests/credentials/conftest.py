"""The roles' Deployer (tests/roles/conftest.py) for the direct playbook runs here."""

from tests.roles.conftest import deployer, docker_engine

__all__ = ["deployer", "docker_engine"]
