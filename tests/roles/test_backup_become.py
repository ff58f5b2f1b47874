"""playbooks/backup.yml on a host reached with become (`ansible_become: true`, here `su` to
root on the local connection, as a sudo account would be on an SSH host): Ansible's fetch
falls back to `slurp` (the whole file base64 in the controller's memory) whenever become is
on for the task, so the roles hand the finished file to the connecting user and fetch it
without become. `-vvv` names every module Ansible runs: no slurp, and the fetched file is
the backup (its SHA-256 as reported), with nothing left on the Docker host."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.roles import test_role_mysql_backup as mysql_backup
from tests.roles import test_role_redis_backup as redis_backup
from tests.roles.conftest import Deployer, host_vars


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.parametrize("engine", ["redis", "mysql"])
def test_backup_over_become_streams_without_slurp(deployer: Deployer, engine: str) -> None:
    if engine == "redis":
        rinst = redis_backup.Instance(deployer, False)
        rinst.app.set("k", "v")
        variables: dict[str, Any] = {"engine": "redis", "instance_id": rinst.id, **rinst.vars}
        leftovers = rinst.host_leftovers
    else:
        minst = mysql_backup.Instance(deployer, "bec")
        conn = minst.app()
        try:
            mysql_backup.write_schema(conn)
        finally:
            conn.close()
        variables = dict(minst.base)

        def leftovers() -> list[str]:
            return [str(p) for p in mysql_backup.host_backup_files(deployer, minst.id)]

    become = deployer.tmp / "become.yml"
    become.write_text(
        yaml.safe_dump(
            {
                "dbvend_hosts": {
                    "hosts": {
                        "local": {
                            **host_vars(deployer.tmp),
                            "ansible_become": True,
                            "ansible_become_method": "su",
                            "ansible_become_user": "root",
                        }
                    }
                }
            }
        )
    )
    dest = deployer.tmp / "store"
    backup_id = "b-become01"
    run = deployer.playbook(
        "backup.yml",
        {**variables, "backup_id": backup_id, "backup_dest": str(dest)},
        "-vvv",
        inventory=become,
    )
    assert run.rc == 0, run.output[-4000:]
    # (With this inventory the roles as they were fetched through slurp: become from root to
    # root wraps no command, but Ansible's fetch still takes the slurp path.)
    modules = set(re.findall(r"Using module file \S*/([a-z_]+)\.py", run.output))
    assert "fetch" not in modules  # fetch is an action plugin; slurp would be its module
    assert "slurp" not in modules, sorted(modules)
    fmt = "rdb" if engine == "redis" else "sql.gz"
    path = dest / f"{backup_id}.{fmt}"
    assert path.stat().st_size > 0
    assert _sha256(path) in run.output  # the SHA-256 the host reported is the fetched file's
    assert leftovers() == []
    assert not list(deployer.tmp.glob("data/.dbvend-handoff-*"))


def test_store_host_put_get_delete_over_become_without_slurp(deployer: Deployer) -> None:
    """playbooks/backup_store.yml (DBVEND_BACKUP_HOST) on a become host: the file goes there
    and comes back byte for byte, streamed both ways, and is deleted."""
    become = deployer.tmp / "become.yml"
    become.write_text(
        yaml.safe_dump(
            {
                "dbvend_hosts": {
                    "hosts": {
                        "local": {
                            **host_vars(deployer.tmp),
                            "ansible_become": True,
                            "ansible_become_method": "su",
                            "ansible_become_user": "root",
                        }
                    }
                }
            }
        )
    )
    data = bytes(range(256)) * 8192  # 2 MiB
    local = deployer.tmp / "out.enc"
    local.write_bytes(data)
    remote = deployer.tmp / "store-host" / "dbvend-backups"
    name = "b-become02.rdb.enc"
    common = {"dbvend_target": "local", "dbvend_store_dir": str(remote), "dbvend_store_name": name}

    put = deployer.playbook(
        "backup_store.yml",
        {**common, "dbvend_store_action": "put", "dbvend_store_local": str(local)},
        "-vvv",
        inventory=become,
    )
    assert put.rc == 0, put.output[-4000:]
    assert (remote / name).read_bytes() == data
    assert (remote.stat().st_mode & 0o777, (remote / name).stat().st_mode & 0o777) == (0o700, 0o600)

    back = deployer.tmp / "back" / name
    get = deployer.playbook(
        "backup_store.yml",
        {**common, "dbvend_store_action": "get", "dbvend_store_local": str(back)},
        "-vvv",
        inventory=become,
    )
    assert get.rc == 0, get.output[-4000:]
    assert back.read_bytes() == data
    modules = set(re.findall(r"Using module file \S*/([a-z_]+)\.py", put.output + get.output))
    assert "slurp" not in modules, sorted(modules)

    gone = deployer.playbook(
        "backup_store.yml", {**common, "dbvend_store_action": "delete"}, inventory=become
    )
    assert gone.rc == 0, gone.output[-4000:]
    assert not (remote / name).exists()

    # A name that is not a backup file's is refused before anything runs on the host.
    bad = deployer.playbook(
        "backup_store.yml",
        {**common, "dbvend_store_name": "../../etc/passwd", "dbvend_store_action": "delete"},
        inventory=become,
    )
    assert bad.rc != 0
    assert "dbvend_store_name" in bad.output
