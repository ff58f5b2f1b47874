"""roles/mysql backup.yml and restore.yml, run like ops run them against real MariaDB
containers: a dump with rows, a view, a trigger and routines backed up, changed, restored in
place and read back exactly with the account's current password; the dump loaded into a
fresh MariaDB with the mariadb (`mysql`) client; a corrupt file refused before anything is
touched; a failed load rolled back in the run; a restore interrupted after the data was
moved aside (simulated, and a real kill -9 of the play) finished or rolled back by the next
run, never leaving the instance empty; no backup file left on the host."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import docker
import pymysql
import pytest

from tests.roles.conftest import BIN, MYSQL_IMAGE, ROOT, Deployer, Run, ansible_env, password


@pytest.fixture(autouse=True)
def _custom_stats(monkeypatch: pytest.MonkeyPatch) -> None:
    # ansible-playbook prints set_stats data with this; the tests read the role's report.
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")


def stats(run: Run, key: str, instance_id: str) -> dict[str, Any]:
    match = re.search(r"^\s*RUN: (\{.*\})\s*$", run.output, re.MULTILINE)
    assert match, run.output[-3000:]
    facts: dict[str, Any] = json.loads(match.group(1))[key][instance_id]
    return facts


def connect(port: int, user: str, secret: str, database: str) -> pymysql.Connection:
    deadline = time.monotonic() + 120
    while True:
        try:
            return pymysql.connect(
                host="127.0.0.1",
                port=port,
                user=user,
                password=secret,
                database=database,
                connect_timeout=10,
                autocommit=True,
            )
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def query(conn: pymysql.Connection, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with conn.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def host_backup_files(deployer: Deployer, instance_id: str) -> list[Path]:
    instance_dir = deployer.tmp / "data" / instance_id
    return sorted(p for sub in ("backups", "restore") for p in (instance_dir / sub).glob("*") if p.is_file())


class Instance:
    """A provisioned instance and the variables every playbook run gets."""

    def __init__(self, deployer: Deployer, prefix: str) -> None:
        self.deployer = deployer
        self.id = deployer.new_id(prefix)
        self.port = deployer.free_port()
        self.secret = password()
        self.base: dict[str, Any] = {
            "engine": "mysql",
            "instance_id": self.id,
            "port": self.port,
            "mysql_username": "u_shop",
            "mysql_database": "shop",
            "mysql_password": self.secret,
            "mysql_root_password": password(),
        }
        deployer.provision(
            "mysql", self.id, **{k: v for k, v in self.base.items() if k not in ("engine", "instance_id")}
        )
        self.dir = deployer.tmp / "data" / self.id

    def app(self) -> pymysql.Connection:
        return connect(self.port, "u_shop", self.secret, "shop")

    def backup(self, backup_id: str) -> tuple[Path, dict[str, Any]]:
        dest = self.deployer.tmp / "store"
        run = self.deployer.playbook(
            "backup.yml", {**self.base, "backup_id": backup_id, "backup_dest": str(dest)}
        )
        assert run.rc == 0, run.output[-4000:]
        facts = stats(run, "dbvend_backups", self.id)
        path = dest / f"{backup_id}.sql.gz"
        assert facts == {
            "backup_id": backup_id,
            "file": str(path),
            "format": "sql.gz",
            "sha256": sha256(path),
            "size_bytes": path.stat().st_size,
        }
        assert host_backup_files(self.deployer, self.id) == []
        return path, facts

    def restore_vars(self, path: Path, digest: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.base,
            "restore_file": str(path),
            "restore_sha256": digest,
            "restore_format": "sql.gz",
            **extra,
        }

    def restore(self, path: Path, digest: str, **extra: Any) -> Run:
        return self.deployer.playbook("restore.yml", self.restore_vars(path, digest, **extra))


def write_schema(conn: pymysql.Connection) -> None:
    query(conn, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), data VARBINARY(16), n INT)")
    query(conn, "CREATE TABLE audit (item_id INT, note VARCHAR(40))")
    query(
        conn,
        "INSERT INTO items VALUES (1, 'caf\u00e9 \U0001f600', x'00ff10', 10), (2, 'two', NULL, 20), "
        "(3, 'it''s', x'', 30)",
    )
    query(conn, "CREATE VIEW big_items AS SELECT id, name FROM items WHERE n >= 20")
    query(
        conn,
        "CREATE TRIGGER items_audit AFTER INSERT ON items FOR EACH ROW "
        "INSERT INTO audit VALUES (NEW.id, CONCAT('added ', NEW.name))",
    )
    query(conn, "CREATE PROCEDURE total(OUT s INT) BEGIN SELECT SUM(n) INTO s FROM items; END")
    query(conn, "CREATE FUNCTION doubled(x INT) RETURNS INT DETERMINISTIC RETURN x * 2")


def read_back(conn: pymysql.Connection) -> dict[str, Any]:
    query(conn, "CALL total(@s)")
    return {
        "items": query(conn, "SELECT id, name, data, n FROM items ORDER BY id"),
        "audit": query(conn, "SELECT item_id, note FROM audit ORDER BY item_id"),
        "view": query(conn, "SELECT id, name FROM big_items ORDER BY id"),
        "total": query(conn, "SELECT @s")[0][0],
        "doubled": query(conn, "SELECT doubled(21)")[0][0],
    }


EXPECTED = {
    "items": [(1, "caf\u00e9 \U0001f600", b"\x00\xff\x10", 10), (2, "two", None, 20), (3, "it's", b"", 30)],
    "audit": [],
    "view": [(2, "two"), (3, "it's")],
    "total": 60,
    "doubled": 42,
}


def mariadb_container(client: docker.DockerClient, name: str) -> Any:
    """A fresh MariaDB (no dbvend role) with an empty database `elsewhere`."""
    container = client.containers.run(
        MYSQL_IMAGE,
        name=name,
        detach=True,
        environment={"MARIADB_ROOT_PASSWORD": "fresh-root", "MARIADB_DATABASE": "elsewhere"},
        labels={"dbvend.test": "backup"},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        code, out = container.exec_run(
            ["mariadb", "-uroot", "-pfresh-root", "-NBe", "SELECT @@skip_networking"]
        )
        if code == 0 and out.strip() == b"0":
            return container
        time.sleep(0.5)
    raise AssertionError(container.logs()[-2000:])


@pytest.mark.slow
def test_backup_restore_in_place_and_load_elsewhere(deployer: Deployer) -> None:
    inst = Instance(deployer, "mb")
    conn = inst.app()
    write_schema(conn)
    assert read_back(conn) == EXPECTED
    conn.close()

    path, facts = inst.backup("b-round1")
    with gzip.open(path, "rt") as handle:
        dump = handle.read()
    # The user's database only, loadable into any database name: no CREATE DATABASE/USE,
    # no accounts.
    for part in ("CREATE TABLE `items`", "TRIGGER items_audit", "PROCEDURE `total`", "FUNCTION `doubled`"):
        assert part in dump
    assert not re.search(r"^(CREATE DATABASE|USE )", dump, re.MULTILINE)
    for part in ("mysql.user", "global_priv", "IDENTIFIED"):
        assert part not in dump

    # Changed after the backup: rows, the view, a routine gone; the password rotated.
    conn = inst.app()
    query(conn, "UPDATE items SET name = 'changed', n = 0")
    query(conn, "INSERT INTO items VALUES (9, 'new', NULL, 90)")
    query(conn, "DROP VIEW big_items")
    query(conn, "DROP PROCEDURE total")
    query(conn, "CREATE TABLE extra (x INT)")
    conn.close()
    old_secret, inst.secret = inst.secret, password()
    rotated = deployer.playbook("rotate.yml", {**inst.base, "mysql_password": inst.secret})
    assert rotated.rc == 0, rotated.output[-3000:]
    inst.base["mysql_password"] = inst.secret

    run = inst.restore(path, facts["sha256"])
    assert run.rc == 0, run.output[-4000:]
    assert stats(run, "dbvend_restores", inst.id) == {
        "restored": True,
        "rolled_back": False,
        "recovered": "none",
    }
    conn = inst.app()  # the password as it is now (rotated after the backup), not the one of init/
    got = read_back(conn)
    assert got == EXPECTED, got
    assert query(conn, "SHOW TABLES") == [("audit",), ("big_items",), ("items",)]
    # The trigger came back and fires.
    query(conn, "INSERT INTO items VALUES (4, 'four', NULL, 40)")
    assert query(conn, "SELECT item_id, note FROM audit") == [(4, "added four")]
    conn.close()
    with pytest.raises(pymysql.err.OperationalError):
        connect_once(inst.port, "u_shop", old_secret)
    assert not (inst.dir / "data.previous").exists()
    assert host_backup_files(deployer, inst.id) == []
    assert not (inst.dir / "init" / "zz-dbvend-restore.sql").exists()

    # The downloaded dump loads with the mariadb (`mysql`) client into a fresh server and
    # another database name.
    fresh = mariadb_container(deployer.docker, f"dbvend-test-fresh-{inst.id}")
    try:
        # As the README says: gunzip -c <file> | sed (no DEFINER: the objects get the
        # loading account) | mysql -uroot <database>.
        gunzip = subprocess.Popen(["gunzip", "-c", str(path)], stdout=subprocess.PIPE)
        strip = subprocess.Popen(
            ["sed", "-E", "/^INSERT INTO /!s/DEFINER=`[^`]*`@`[^`]*`//g"],
            stdin=gunzip.stdout,
            stdout=subprocess.PIPE,
        )
        assert gunzip.stdout is not None
        gunzip.stdout.close()
        loaded = subprocess.run(
            ["docker", "exec", "-i", fresh.name, "mysql", "-uroot", "-pfresh-root", "elsewhere"],
            stdin=strip.stdout,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert strip.stdout is not None
        strip.stdout.close()
        assert gunzip.wait(timeout=60) == 0
        assert strip.wait(timeout=60) == 0
        assert loaded.returncode == 0, loaded.stderr
        code, out = fresh.exec_run(
            [
                "mysql",
                "-uroot",
                "-pfresh-root",
                "--default-character-set=utf8mb4",
                "elsewhere",
                "-NBe",
                "SELECT id, name, HEX(data), n FROM items ORDER BY id; SELECT COUNT(*) FROM big_items; "
                "CALL total(@s); SELECT @s, doubled(4)",
            ]
        )
        assert code == 0, out
        assert out.decode().splitlines() == [
            "1\tcaf\u00e9 \U0001f600\t00FF10\t10",
            "2\ttwo\tNULL\t20",
            "3\tit's\t\t30",
            "2",
            "60\t8",
        ]
    finally:
        fresh.remove(force=True, v=True)


def connect_once(port: int, user: str, secret: str) -> None:
    pymysql.connect(host="127.0.0.1", port=port, user=user, password=secret, connect_timeout=10).close()


def kill_when(deployer: Deployer, extravars: dict[str, Any], ready: Path) -> None:
    """Run restore.yml and kill -9 its whole process group as soon as `ready` exists."""
    vars_file = deployer.tmp / "vars-kill.json"
    fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(extravars, handle)
    proc = subprocess.Popen(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(deployer.inventory),
            str(ROOT / "playbooks" / "restore.yml"),
            "-e",
            f"@{vars_file}",
        ],
        cwd=ROOT,
        env=ansible_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    try:
        while not ready.exists():
            assert proc.poll() is None, "the play ended before the data was moved aside"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


@pytest.mark.slow
def test_corrupt_failed_and_interrupted_restores_keep_old_or_new_data(deployer: Deployer) -> None:
    inst = Instance(deployer, "mc")
    conn = inst.app()
    query(conn, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
    query(conn, "INSERT INTO t VALUES (1, 'backed up')")
    conn.close()
    path, facts = inst.backup("b-crash1")
    conn = inst.app()
    query(conn, "UPDATE t SET v = 'current'")
    conn.close()
    container_id = deployer.container(inst.id).id

    def value() -> str:
        conn = inst.app()
        try:
            return str(query(conn, "SELECT v FROM t")[0][0])
        finally:
            conn.close()

    # One byte flipped, the original's SHA-256 given: refused before anything is touched.
    corrupt = deployer.tmp / "corrupt.sql.gz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    corrupt.write_bytes(bytes(data))
    before = started_at(deployer, inst.id)
    run = inst.restore(corrupt, facts["sha256"])
    assert run.rc != 0
    assert "DBVEND_CHECKSUM_MISMATCH" in run.output, run.output[-3000:]
    assert value() == "current"
    assert started_at(deployer, inst.id) == before  # not even restarted
    assert host_backup_files(deployer, inst.id) == []

    # A Redis backup into MariaDB: refused.
    run = inst.restore(path, facts["sha256"], restore_format="rdb")
    assert run.rc != 0
    assert "DBVEND_FORMAT_MISMATCH" in run.output
    assert value() == "current"

    # A file with the right checksum whose SQL fails: rolled back in the same run.
    bad = deployer.tmp / "bad.sql.gz"
    bad.write_bytes(gzip.compress(b"CREATE TABLE t2 (x INT);\nTHIS IS NOT SQL;\n"))
    run = inst.restore(bad, sha256(bad))
    assert run.rc != 0
    assert stats(run, "dbvend_restores", inst.id) == {
        "restored": False,
        "rolled_back": True,
        "recovered": "none",
    }
    assert value() == "current"
    assert not (inst.dir / "data.previous").exists()
    assert host_backup_files(deployer, inst.id) == []

    # Interrupted after the data was moved aside and the server started on an empty data
    # directory (what a crash between the swap and the marker leaves): the next run rolls
    # back to the old data.
    container = deployer.container(inst.id)
    container.stop()
    (inst.dir / "data").rename(inst.dir / "data.previous")
    container.start()
    run = deployer.playbook("restore.yml", {**inst.base, "restore_recover_only": True})
    assert run.rc == 0, run.output[-4000:]
    assert stats(run, "dbvend_restores", inst.id) == {
        "restored": False,
        "rolled_back": True,
        "recovered": "rollback",
    }
    assert value() == "current"
    assert not (inst.dir / "data.previous").exists()

    # Interrupted after the marker (the load completed, data.previous not yet removed): the
    # next run with the same file finishes without loading again.
    run = inst.restore(path, facts["sha256"])
    assert run.rc == 0, run.output[-4000:]
    assert value() == "backed up"
    conn = inst.app()
    query(conn, "UPDATE t SET v = 'after restore'")
    conn.close()
    (inst.dir / "data.previous").mkdir()
    (inst.dir / "data.previous" / "leftover").write_text("old data")
    (inst.dir / "restore").mkdir()
    (inst.dir / "restore" / "loaded").write_text(facts["sha256"] + "\n")
    run = inst.restore(path, facts["sha256"])
    assert run.rc == 0, run.output[-4000:]
    assert stats(run, "dbvend_restores", inst.id) == {
        "restored": True,
        "rolled_back": False,
        "recovered": "finish",
    }
    assert value() == "after restore"  # not loaded again
    assert not (inst.dir / "data.previous").exists()
    assert host_backup_files(deployer, inst.id) == []

    # A real kill -9 of the play once the old data is aside: the next run ends on the old or
    # on the new data, never on an empty instance, and says which.
    kill_when(deployer, inst.restore_vars(path, facts["sha256"]), inst.dir / "data.previous")
    assert (inst.dir / "data.previous").exists()
    run = deployer.playbook("restore.yml", {**inst.base, "restore_recover_only": True})
    assert run.rc == 0, run.output[-4000:]
    report = stats(run, "dbvend_restores", inst.id)
    assert report["recovered"] in ("rollback", "finish")
    assert value() == ("backed up" if report["restored"] else "after restore")
    assert report["rolled_back"] is (not report["restored"])
    assert not (inst.dir / "data.previous").exists()
    assert not (inst.dir / "init" / "zz-dbvend-restore.sql").exists()
    assert host_backup_files(deployer, inst.id) == []
    assert deployer.container(inst.id).id == container_id


def started_at(deployer: Deployer, instance_id: str) -> str:
    return str(deployer.container(instance_id).attrs["State"]["StartedAt"])
