"""The Redis application account, tried with a real client against an instance made by
roles/redis: every command that opens a connection, takes a payload in from outside or
touches server state answers NOPERM; the commands an application uses work.

Each denied command runs on a connection of its own, so one that the ACL wrongly let
through (MONITOR, SCRIPT DEBUG, SYNC) cannot change what the next case sees."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import redis

from tests.roles.conftest import Deployer, password

APP = "u_app"
ADMIN = "dbvend-admin"

DENIED: list[tuple[str, ...]] = [
    # open connections / take data in from outside
    ("MIGRATE", "127.0.0.1", "1", "k", "0", "1000"),
    ("MIGRATE", "127.0.0.1", "1", "", "0", "1000", "KEYS", "k"),
    ("RESTORE", "restored", "0", "not-a-payload"),
    ("RESTORE-ASKING", "restored", "0", "not-a-payload"),
    ("FUNCTION", "RESTORE", "not-a-payload"),
    ("REPLICAOF", "127.0.0.1", "1"),
    ("SLAVEOF", "127.0.0.1", "1"),
    ("FAILOVER", "TO", "127.0.0.1", "1"),
    ("CLUSTER", "MEET", "127.0.0.1", "1"),
    ("CLUSTER", "INFO"),
    ("SYNC",),
    ("PSYNC", "?", "-1"),
    ("REPLCONF", "listening-port", "1"),
    # server state
    ("CONFIG", "GET", "maxmemory"),
    ("CONFIG", "SET", "maxmemory", "0"),
    ("CONFIG", "REWRITE"),
    ("CONFIG", "RESETSTAT"),
    ("DEBUG", "SLEEP", "0"),
    ("MODULE", "LIST"),
    ("MODULE", "LOAD", "/tmp/nothing.so"),
    ("ACL", "LIST"),
    ("ACL", "WHOAMI"),
    ("ACL", "SETUSER", "intruder", "on", ">pw", "+@all"),
    ("SHUTDOWN", "NOSAVE"),
    ("MONITOR",),
    ("SAVE",),
    ("BGSAVE",),
    ("BGREWRITEAOF",),
    ("LASTSAVE",),
    ("LATENCY", "DOCTOR"),
    ("LATENCY", "RESET"),
    ("SLOWLOG", "GET"),
    ("SLOWLOG", "RESET"),
    ("MEMORY", "PURGE"),
    ("MEMORY", "MALLOC-STATS"),
    ("SCRIPT", "DEBUG", "YES"),
    ("ROLE",),
    ("PFDEBUG", "GETREG", "k"),
    ("PFSELFTEST",),
    # other connections
    ("CLIENT", "LIST"),
    ("CLIENT", "KILL", "ID", "1"),
    ("CLIENT", "KILL", "USER", ADMIN),
    ("CLIENT", "PAUSE", "1000"),
    ("CLIENT", "UNPAUSE"),
    ("CLIENT", "UNBLOCK", "1"),
    ("CLIENT", "NO-EVICT", "ON"),
]


@dataclass
class Instance:
    port: int
    app_password: str
    admin_password: str

    def client(self, username: str = APP, **options: object) -> redis.Redis:
        secret = self.app_password if username == APP else self.admin_password
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            username=username,
            password=secret,
            socket_timeout=10,
            decode_responses=True,
            **options,  # type: ignore[arg-type]
        )


@pytest.fixture(scope="module")
def instance(
    tmp_path_factory: pytest.TempPathFactory, docker_engine: docker.DockerClient
) -> Iterator[Instance]:
    deployer = Deployer(Path(tmp_path_factory.mktemp("redis-acl")), docker_engine)
    try:
        instance_id = deployer.new_id("acl")
        port = deployer.free_port()
        found = Instance(port, password(), password())
        deployer.provision(
            "redis",
            instance_id,
            port=port,
            redis_username=APP,
            redis_password=found.app_password,
            redis_admin_password=found.admin_password,
        )
        yield found
    finally:
        deployer.cleanup()


# The server refuses these to every account before the ACL is asked (enable-debug-command
# and enable-module-command are off); ACL DRYRUN below shows the ACL denies them as well.
OFF_FOR_EVERYONE = {("DEBUG", "SLEEP", "0"), ("MODULE", "LOAD", "/tmp/nothing.so")}


@pytest.mark.parametrize("command", DENIED, ids=lambda c: " ".join(c[:2]))
def test_the_application_account_cannot_run(instance: Instance, command: tuple[str, ...]) -> None:
    app = instance.client(single_connection_client=True)
    refused = redis.exceptions.NoPermissionError
    why = "no permissions"
    if command in OFF_FOR_EVERYONE:
        refused, why = redis.exceptions.ResponseError, "command not allowed"
    try:
        with pytest.raises(refused, match=why):
            app.execute_command(*command)
    finally:
        app.close()
    # The admin account agrees (ACL DRYRUN), and the server is still there.
    admin = instance.client(ADMIN)
    try:
        verdict = admin.execute_command("ACL", "DRYRUN", APP, *command)
        assert "no permissions" in str(verdict), (command, verdict)
        assert admin.ping()
    finally:
        admin.close()


def test_the_application_account_runs_what_applications_use(instance: Instance) -> None:
    app = instance.client()
    try:
        assert app.ping()
        assert app.execute_command("SELECT", "0")
        assert app.set("greeting", "hello")
        assert app.get("greeting") == "hello"
        assert app.expire("greeting", 600)
        assert 0 < app.ttl("greeting") <= 600
        assert app.lpush("queue", "a", "b") == 2
        assert app.hset("hash", mapping={"f": "v"}) == 1
        assert app.hgetall("hash") == {"f": "v"}
        assert app.keys("*")
        assert app.scan(0)[1]
        assert app.sort("queue", alpha=True) == ["a", "b"]
        assert app.dump("greeting") is not None
        assert app.memory_usage("greeting") > 0
        assert app.object("encoding", "greeting")
        assert app.eval("return redis.call('GET', KEYS[1])", 1, "greeting") == "hello"
        assert app.info("server")["redis_version"].startswith("7.")
        assert app.client_setname("worker-1")
        assert app.client_getname() == "worker-1"
        assert app.client_id() > 0
        assert app.execute_command("CLIENT", "INFO")
        assert app.execute_command("WAIT", "0", "0") == 0
        assert app.execute_command("PUBSUB", "CHANNELS") == []

        pipe = app.pipeline(transaction=True)  # MULTI ... EXEC
        pipe.incr("counter")
        pipe.incr("counter")
        assert pipe.execute() == [1, 2]

        subscriber = instance.client().pubsub()
        subscriber.subscribe("news")
        assert subscriber.get_message(timeout=5)["type"] == "subscribe"
        assert app.publish("news", "x") == 1
        message = subscriber.get_message(timeout=5)
        assert message is not None
        assert message["data"] == "x"
        subscriber.close()

        # The tenant's own data only: allowed although @dangerous.
        assert app.swapdb(0, 1)
        assert app.swapdb(0, 1)
        assert app.flushdb()
        assert app.flushall(asynchronous=True)
        assert app.dbsize() == 0
    finally:
        app.close()
