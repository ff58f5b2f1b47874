"""Backups and in-place restores of roles/redis (playbooks/backup.yml, playbooks/restore.yml)
with a real server and redis-py: keys of every type (with TTLs) backed up, changed, restored
and read back exactly, with appendonly off and on (and after `docker restart`); the old
password keeps working; the RDB loads into a plain redis-server; a corrupt or foreign file is
refused before the instance is touched; an interrupted restore is finished or rolled back by
the next run and never leaves the instance empty; no backup file stays on the Docker host."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import docker
import pytest
import redis

from tests.roles.conftest import BIN, REDIS_IMAGE, ROOT, Deployer, ansible_env, host_vars, password
from tests.roles.test_playbooks import run_like_the_service

RESTORE_SH = ROOT / "roles" / "redis" / "files" / "restore-host.sh"


def sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def connect(port: int, username: str, secret: str | None) -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        username=username,
        password=secret,
        socket_timeout=15,
        decode_responses=True,
    )


def wait_ready(client: redis.Redis, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def write_dataset(app: redis.Redis) -> None:
    app.set("s:plain", "value with spaces and ünïcode")
    app.set("s:ttl", "expires later", ex=3600)
    app.set("s:binary-ish", "\x01\x02tab\tnewline\n")
    app.hset("h:user", mapping={"name": "ada", "age": "36", "empty": ""})
    app.rpush("l:queue", "a", "b", "c", "a")
    app.sadd("set:tags", "x", "y", "z")
    app.zadd("z:scores", {"alice": 1.5, "bob": -2, "carol": 1e10})
    app.hset("h:ttl", "k", "v")
    app.expire("h:ttl", 7200)
    for i in range(200):
        app.set(f"bulk:{i}", "v" * (i % 50))


def snapshot(app: redis.Redis) -> dict[str, Any]:
    """Every key's type, value and whether (and roughly how long) it has a TTL."""
    out: dict[str, Any] = {}
    for key in app.scan_iter(count=1000):
        kind = app.type(key)
        value: Any
        if kind == "string":
            value = app.get(key)
        elif kind == "hash":
            value = app.hgetall(key)
        elif kind == "list":
            value = app.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(app.smembers(key))
        elif kind == "zset":
            value = app.zrange(key, 0, -1, withscores=True)
        else:
            raise AssertionError(f"unexpected type {kind} of {key}")
        ttl = app.ttl(key)
        out[key] = (kind, value, ttl > 0)
    return out


def change_dataset(app: redis.Redis) -> None:
    app.set("s:plain", "changed")
    app.delete("h:user", "l:queue")
    app.sadd("set:tags", "added")
    app.persist("s:ttl")
    app.set("new:key", "written after the backup")


def service_vars(port: int, app_pw: str, admin_pw: str, appendonly: bool) -> dict[str, Any]:
    return {
        "port": port,
        "redis_username": "u_app",
        "redis_password_hash": sha(app_pw),
        "redis_admin_password_hash": sha(admin_pw),
        "redis_appendonly": appendonly,
        "redis_maxmemory": 64 * 1024 * 1024,
        "dbvend_wait_ready": False,
    }


class Instance:
    def __init__(self, deployer: Deployer, appendonly: bool) -> None:
        self.deployer = deployer
        self.id = deployer.new_id("bkp")
        self.port = deployer.free_port()
        self.app_pw, self.admin_pw = password(), password()
        self.vars = service_vars(self.port, self.app_pw, self.admin_pw, appendonly)
        deployer.provision("redis", self.id, **self.vars)
        self.dir = deployer.tmp / "data" / self.id
        self.app = connect(self.port, "u_app", self.app_pw)
        wait_ready(self.app)

    def hosts(self, **extra: Any) -> dict[str, Any]:
        return {
            self.id: {
                **host_vars(self.deployer.tmp),
                "engine": "redis",
                "instance_id": self.id,
                **self.vars,
                **extra,
            }
        }

    def backup(self, backup_id: str) -> dict[str, Any]:
        dest = self.deployer.tmp / "store"
        stats = run_like_the_service(
            self.deployer.tmp, "backup.yml", self.hosts(backup_id=backup_id, backup_dest=str(dest))
        )
        facts: dict[str, Any] = stats["artifact_data"]["dbvend_backups"][self.id]
        return facts

    def restore_vars(self, path: Path, digest: str | None = None, fmt: str = "rdb") -> dict[str, Any]:
        return {
            "engine": "redis",
            "instance_id": self.id,
            **self.vars,
            "restore_file": str(path),
            "restore_sha256": digest or file_sha(path),
            "restore_format": fmt,
        }

    def restore(self, path: Path) -> dict[str, Any]:
        stats = run_like_the_service(
            self.deployer.tmp,
            "restore.yml",
            self.hosts(restore_file=str(path), restore_sha256=file_sha(path), restore_format="rdb"),
        )
        facts: dict[str, Any] = stats["artifact_data"]["dbvend_restores"][self.id]
        return facts

    def started_at(self) -> str:
        started: str = self.deployer.container(self.id).attrs["State"]["StartedAt"]
        return started

    def host_leftovers(self) -> list[str]:
        """Backup or restore files left on the Docker host."""
        found = [str(p.relative_to(self.dir)) for p in (self.dir / "data").glob(".dbvend-backup-*")]
        for name in ("backups", "restore", "restore.marker", "data.previous", "data.new"):
            path = self.dir / name
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                found.append(name)
        return found


def assert_backup_facts(facts: dict[str, Any], backup_id: str, store: Path) -> Path:
    path = store / f"{backup_id}.rdb"
    assert facts["backup_id"] == backup_id
    assert facts["format"] == "rdb"
    assert facts["file"] == str(path)
    assert facts["size_bytes"] == path.stat().st_size > 0
    assert facts["sha256"] == file_sha(path)
    assert path.read_bytes()[:7] == b"REDIS00"
    return path


@pytest.mark.slow
@pytest.mark.parametrize("appendonly", [False, True], ids=["rdb", "aof"])
def test_backup_change_restore_in_place_reads_back_exactly(deployer: Deployer, appendonly: bool) -> None:
    inst = Instance(deployer, appendonly)
    write_dataset(inst.app)
    before = snapshot(inst.app)
    assert len(before) == 208

    facts = inst.backup("b-first01")
    path = assert_backup_facts(facts, "b-first01", deployer.tmp / "store")
    assert inst.host_leftovers() == []

    change_dataset(inst.app)
    assert snapshot(inst.app) != before

    restored = inst.restore(path)
    assert restored["restored"] is True
    assert restored["rolled_back"] is False
    assert restored["keys"] == 208
    # The old password still works (the ACL file is the instance's, not the backup's).
    app = connect(inst.port, "u_app", inst.app_pw)
    assert snapshot(app) == before
    assert 0 < app.ttl("s:ttl") <= 3600
    assert 0 < app.ttl("h:ttl") <= 7200
    assert inst.host_leftovers() == []
    admin = connect(inst.port, "dbvend-admin", inst.admin_pw)
    assert admin.config_get("appendonly")["appendonly"] == ("yes" if appendonly else "no")

    # What is written after the restore, and the restored data, survive a restart (with AOF
    # on, Redis loads the AOF whose base is the restored RDB).
    app.set("after:restore", "kept")
    if not appendonly:
        admin.save()
    deployer.container(inst.id).restart(timeout=30)
    app = connect(inst.port, "u_app", inst.app_pw)
    wait_ready(app)
    assert snapshot(app) == {**before, "after:restore": ("string", "kept", False)}
    if appendonly:
        assert admin.info("persistence")["aof_enabled"] == 1
        manifest = (inst.dir / "data" / "appendonlydir" / "appendonly.aof.manifest").read_text()
        assert "type b" in manifest
        assert "type i" in manifest


@pytest.mark.slow
def test_rdb_loads_into_plain_redis_server_and_bad_files_are_refused(
    deployer: Deployer, docker_engine: docker.DockerClient
) -> None:
    inst = Instance(deployer, appendonly=False)
    write_dataset(inst.app)
    before = snapshot(inst.app)
    path = assert_backup_facts(inst.backup("b-plain001"), "b-plain001", deployer.tmp / "store")

    # The downloaded RDB, loaded by a plain redis-server (no config, no ACL file).
    port = deployer.free_port()
    plain = docker_engine.containers.run(
        REDIS_IMAGE,
        [
            "redis-server",
            "--dir",
            "/backup",
            "--dbfilename",
            path.name,
            "--save",
            "",
            "--protected-mode",
            "no",
        ],
        volumes={str(path.parent): {"bind": "/backup", "mode": "rw"}},
        ports={"6379/tcp": ("127.0.0.1", port)},
        detach=True,
        remove=False,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=15, decode_responses=True)
        wait_ready(client)
        assert snapshot(client) == before
    finally:
        plain.remove(force=True)

    inst.app.set("s:plain", "current")
    current = snapshot(inst.app)
    started = inst.started_at()

    def refused(extravars: dict[str, Any]) -> str:
        run = deployer.playbook("restore.yml", extravars)
        assert run.rc != 0
        return run.output

    # A corrupt copy (one byte flipped) of the named backup: checksum mismatch, not touched.
    corrupt = deployer.tmp / "corrupt.rdb"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    output = refused(inst.restore_vars(corrupt, digest=file_sha(path)))
    assert "DBVEND_CHECKSUM_MISMATCH" in output
    # Not an RDB at all (its checksum given right), and an RDB announced as sql.gz.
    text = deployer.tmp / "dump.sql.gz"
    text.write_bytes(b"\x1f\x8b\x08\x00not an rdb")
    assert "DBVEND_NOT_RDB" in refused(inst.restore_vars(text))
    assert "DBVEND_FORMAT_MISMATCH" in refused(inst.restore_vars(path, fmt="sql.gz"))
    # A truncated RDB passes the signature check but not redis-check-rdb: still untouched.
    truncated = deployer.tmp / "truncated.rdb"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert "DBVEND_BAD_RDB" in refused(inst.restore_vars(truncated))

    assert inst.started_at() == started
    assert snapshot(connect(inst.port, "u_app", inst.app_pw)) == current
    assert inst.host_leftovers() in ([], ["restore"])


def run_host_step(step: str, inst: Instance, digest: str) -> str:
    """One step of files/restore-host.sh, as the role's `raw` task runs it."""
    proc = subprocess.run(
        ["sh", "-c", RESTORE_SH.read_text(), "dbvend-restore", step, str(inst.dir), digest],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_interrupted_restore_is_finished_or_rolled_back(deployer: Deployer) -> None:
    inst = Instance(deployer, appendonly=True)
    write_dataset(inst.app)
    backed_up = snapshot(inst.app)
    path = assert_backup_facts(inst.backup("b-crash001"), "b-crash001", deployer.tmp / "store")
    digest = file_sha(path)
    change_dataset(inst.app)
    old = snapshot(inst.app)
    assert old != backed_up

    # 1. kill -9 of the play as soon as the marker appears (the old data is being moved
    #    aside): the next run of the same restore finishes it.
    vars_file = write_vars(deployer.tmp / "restore-vars.json", inst.restore_vars(path))
    playbook = str(ROOT / "playbooks" / "restore.yml")
    proc = subprocess.Popen(
        [str(BIN / "ansible-playbook"), "-i", str(deployer.inventory), playbook, "-e", f"@{vars_file}"],
        cwd=ROOT,
        env=ansible_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    marker = inst.dir / "restore.marker"
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert marker.exists(), "the play ended before the marker appeared"
    facts = inst.restore(path)
    assert facts == {"restored": True, "rolled_back": False, "keys": 208, "engine": "redis"}
    app = connect(inst.port, "u_app", inst.app_pw)
    assert snapshot(app) == backed_up
    assert inst.host_leftovers() == []

    # 2. A crash after the old data was moved aside, before the new data was in place (the
    #    container stopped, no data/): the next run, with a corrupt file, puts the old data
    #    back, starts the instance on it, and only then refuses the file.
    change_dataset(app)
    old = snapshot(app)
    deployer.container(inst.id).stop(timeout=30)
    (inst.dir / "restore").mkdir()
    (inst.dir / "restore" / f"{digest}.rdb").write_bytes(path.read_bytes())
    marker.write_text(f"swap {digest}\n")
    (inst.dir / "data").rename(inst.dir / "data.previous")
    corrupt = deployer.tmp / "corrupt.rdb"
    good = path.read_bytes()
    # The last byte flipped: setting it to 0 left the file intact whenever its CRC ended in 0.
    corrupt.write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))
    run = deployer.playbook("restore.yml", inst.restore_vars(corrupt, digest=digest))
    assert run.rc != 0
    assert "DBVEND_CHECKSUM_MISMATCH" in run.output, run.output[-4000:]
    app = connect(inst.port, "u_app", inst.app_pw)
    wait_ready(app)
    assert snapshot(app) == old
    assert inst.host_leftovers() == []

    # 3. A crash right after the swap (new data in place, container stopped, marker says
    #    swap): a run with another backup rolls the interrupted one back to the old data, then
    #    restores its own file.
    app.set("only:in-old", "1")
    old = snapshot(app)
    other_facts = inst.backup("b-other001")
    other = deployer.tmp / "store" / "b-other001.rdb"
    assert other_facts["sha256"] == file_sha(other)
    app.set("written:after-other", "1")
    deployer.container(inst.id).stop(timeout=30)
    (inst.dir / "restore").mkdir()
    (inst.dir / "restore" / f"{digest}.rdb").write_bytes(path.read_bytes())
    assert "dbvend-swapped" in run_host_step("swap", inst, digest)
    facts = inst.restore(other)
    assert facts["restored"] is True
    app = connect(inst.port, "u_app", inst.app_pw)
    assert snapshot(app) == old
    assert inst.host_leftovers() == []


def write_vars(path: Path, extravars: dict[str, Any]) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(extravars, handle)
    return path
