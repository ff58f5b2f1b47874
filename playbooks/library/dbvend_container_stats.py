#!/usr/bin/python
# -*- coding: utf-8 -*-
# dbvend: the state of every dbvend container on a Docker host, in one module execution.
# Stdlib only (runs with the host's python3); talks HTTP to the Docker engine API.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: dbvend_container_stats
short_description: State and resource use of the dbvend containers on a Docker host
description:
  - Lists the containers labelled C(dbvend.managed=true) on the Docker engine given by
    O(docker_host), inspects each one and, for the running ones, reads one statistics
    sample (C(GET /containers/{id}/stats?stream=false&one-shot=true)), concurrently.
  - One execution per host, whatever the number of containers; the collector of the
    dbvend service runs it every collection round through C(playbooks/collect.yml).
  - Uses only the Python standard library (HTTP over the engine's unix socket or TCP).
  - With O(data_root), also the disk use of each instance's directory
    (C(<data_root>/<instance id>)) and the size and free space of the data root's filesystem.
  - Reads only; never changes a container or a file.
version_added: "1.0.0"
author: dbvend
options:
  docker_host:
    description:
      - The Docker engine, as C(unix:///path/to/docker.sock) or C(tcp://host:port) (plain HTTP).
    type: str
    default: unix:///var/run/docker.sock
  instances:
    description:
      - Only report containers of these instance ids (label C(dbvend.instance)); every
        dbvend container when empty.
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds allowed for each call to the engine.
    type: float
    default: 10
  data_root:
    description:
      - The host's dbvend data root (C(dbvend_data_root)). When set, each entry reports
        RV(containers[].data_bytes) and the result RV(data_root). Not measured when empty.
    type: str
    default: ""
  disk_max_entries:
    description:
      - Files and directories counted at most per instance directory, which bounds the cost
        of a round; past it RV(containers[].data_bytes) is a lower bound and
        RV(containers[].data_complete) is false.
    type: int
    default: 100000
  workers:
    description:
      - Containers inspected and sampled at the same time. The engine answers a one-shot
        statistics request at its next sampling tick (up to a second later), so sampling
        every container at once keeps the whole call near one second.
    type: int
    default: 64
notes:
  - Disk use is what C(du) reports (allocated blocks, hard links once, symbolic links not
    followed), read with one C(lstat) per entry.
  - CPU use is reported as cumulative counters (RV(containers[].cpu_usage_ns),
    RV(containers[].system_usage_ns)); a one-shot sample has no previous reading, so the
    caller computes a percentage from two consecutive rounds.
"""

EXAMPLES = r"""
- name: Read the dbvend containers of this host
  dbvend_container_stats:
    docker_host: unix:///var/run/docker.sock
  register: stats

- name: Only two instances
  dbvend_container_stats:
    instances: [i-7f3k2q9x, i-a1b2c3d4]
"""

RETURN = r"""
docker_version:
  description: Version of the Docker engine.
  returned: always
  type: str
  sample: "20.10.24"
data_root:
  description: The filesystem of O(data_root) (null when O(data_root) is empty).
  returned: always
  type: dict
  contains:
    path:
      description: O(data_root).
      type: str
    total_bytes:
      description: Size of the filesystem, in bytes.
      type: int
    free_bytes:
      description: Bytes available to unprivileged users (statvfs C(f_bavail)).
      type: int
    error:
      description: Why it could not be read, or null.
      type: str
containers:
  description: One entry per dbvend container.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Container id.
      type: str
    name:
      description: Container name without the leading slash.
      type: str
    instance_id:
      description: Value of the C(dbvend.instance) label.
      type: str
    engine:
      description: Value of the C(dbvend.engine) label.
      type: str
    status:
      description: created, running, paused, restarting, removing, exited or dead.
      type: str
    running:
      description: Whether the container runs.
      type: bool
    restarting:
      description: Whether the restart policy is about to start it again.
      type: bool
    restart_count:
      description: Restarts made by the restart policy since the container was created.
      type: int
    oom_killed:
      description: Whether the kernel killed its last process for exceeding the memory limit.
      type: bool
    exit_code:
      description: Exit code of the last run.
      type: int
    started_at:
      description: When it last started (RFC 3339), or null.
      type: str
    finished_at:
      description: When it last stopped (RFC 3339), or null.
      type: str
    memory_usage:
      description: Memory in use without the page cache, in bytes (running containers).
      type: int
    memory_limit:
      description: Memory limit in bytes (running containers).
      type: int
    cpu_usage_ns:
      description: Cumulative CPU time of the container, in nanoseconds.
      type: int
    system_usage_ns:
      description: Cumulative CPU time of the host, in nanoseconds.
      type: int
    online_cpus:
      description: CPUs available to the container.
      type: int
    data_bytes:
      description: Disk used by C(<data_root>/<instance id>), in bytes; null when not measured.
      type: int
    data_complete:
      description: False when the walk stopped at O(disk_max_entries) (data_bytes is then a lower bound).
      type: bool
    error:
      description: Why part of the entry could not be read, or null.
      type: str
"""

import json
import os
import re
import socket
import stat
from concurrent.futures import ThreadPoolExecutor

from http.client import HTTPConnection
from urllib.parse import quote, urlparse

from ansible.module_utils.basic import AnsibleModule

_NULL_TIME = "0001-01-01T00:00:00Z"
# What roles/mysql and roles/redis accept as an instance id: never a path of its own.
_INSTANCE_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,62}\Z")


class _UnixConnection(HTTPConnection):
    def __init__(self, path, timeout):
        HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class DockerApi(object):
    def __init__(self, docker_host, timeout):
        url = urlparse(docker_host)
        self.timeout = timeout
        if url.scheme in ("unix", ""):
            self._connect = lambda: _UnixConnection(url.path or docker_host, timeout)
        elif url.scheme in ("tcp", "http"):
            self._connect = lambda: HTTPConnection(url.hostname, url.port or 2375, timeout=timeout)
        else:
            raise ValueError("docker_host must be unix:///path or tcp://host:port, got %s" % docker_host)

    def get(self, path):
        conn = self._connect()
        try:
            conn.request("GET", path, headers={"Host": "docker"})
            response = conn.getresponse()
            body = response.read()
            if response.status >= 400:
                raise RuntimeError("GET %s: HTTP %s %s" % (path, response.status, body[:200]))
            return json.loads(body)
        finally:
            conn.close()


def _time(value):
    return None if not value or value == _NULL_TIME else value


def _memory_usage(memory):
    """Like `docker stats`: usage minus the inactive page cache."""
    usage = memory.get("usage")
    if usage is None:
        return None
    stats = memory.get("stats") or {}
    cache = stats.get("inactive_file", stats.get("total_inactive_file", 0))
    return max(0, usage - cache) if cache < usage else usage


def disk_use(path, max_entries):
    """(bytes, complete) under path, like du: allocated blocks, each inode once, symbolic
    links not followed, at most max_entries entries read."""
    top = os.lstat(path)
    total, entries, seen = top.st_blocks * 512, 0, set()
    if not stat.S_ISDIR(top.st_mode):  # never follow a link put in its place
        return total, True
    pending = [path]
    while pending:
        try:
            listing = os.scandir(pending.pop())
        except OSError:
            continue  # gone meanwhile, or unreadable: count what can be read
        with listing:
            for entry in listing:
                entries += 1
                if entries > max_entries:
                    return total, False
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                if info.st_nlink > 1:
                    if (info.st_dev, info.st_ino) in seen:
                        continue
                    seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total, True


def filesystem(path):
    entry = {"path": path, "total_bytes": None, "free_bytes": None, "error": None}
    try:
        info = os.statvfs(path)
        entry.update(total_bytes=info.f_blocks * info.f_frsize, free_bytes=info.f_bavail * info.f_frsize)
    except OSError as exc:
        entry["error"] = str(exc)[:300]
    return entry


def read_disk(entry, data_root, max_entries):
    instance_id = entry["instance_id"]
    if not data_root or not isinstance(instance_id, str) or not _INSTANCE_ID.match(instance_id):
        return
    try:
        entry["data_bytes"], entry["data_complete"] = disk_use(
            os.path.join(data_root, instance_id), max_entries
        )
    except OSError:
        pass  # no directory (yet): not measured


def read_container(api, summary, data_root="", max_entries=100000):
    labels = summary.get("Labels") or {}
    entry = {
        "id": summary["Id"],
        "name": (summary.get("Names") or ["/"])[0].lstrip("/"),
        "instance_id": labels.get("dbvend.instance"),
        "engine": labels.get("dbvend.engine"),
        "status": summary.get("State"),
        "running": False,
        "restarting": False,
        "restart_count": None,
        "oom_killed": False,
        "exit_code": None,
        "started_at": None,
        "finished_at": None,
        "memory_usage": None,
        "memory_limit": None,
        "cpu_usage_ns": None,
        "system_usage_ns": None,
        "online_cpus": None,
        "data_bytes": None,
        "data_complete": None,
        "error": None,
    }
    read_disk(entry, data_root, max_entries)
    try:
        info = api.get("/containers/%s/json" % quote(summary["Id"]))
        state = info.get("State") or {}
        entry.update(
            status=state.get("Status", entry["status"]),
            running=bool(state.get("Running")) and not state.get("Restarting"),
            restarting=bool(state.get("Restarting")),
            restart_count=info.get("RestartCount"),
            oom_killed=bool(state.get("OOMKilled")),
            exit_code=state.get("ExitCode"),
            started_at=_time(state.get("StartedAt")),
            finished_at=_time(state.get("FinishedAt")),
            memory_limit=(info.get("HostConfig") or {}).get("Memory") or None,
        )
        if entry["running"]:
            stats = api.get("/containers/%s/stats?stream=false&one-shot=true" % quote(summary["Id"]))
            memory = stats.get("memory_stats") or {}
            cpu = stats.get("cpu_stats") or {}
            entry.update(
                memory_usage=_memory_usage(memory),
                memory_limit=memory.get("limit") or entry["memory_limit"],
                cpu_usage_ns=(cpu.get("cpu_usage") or {}).get("total_usage"),
                system_usage_ns=cpu.get("system_cpu_usage"),
                online_cpus=cpu.get("online_cpus"),
            )
    except Exception as exc:  # one container's failure must not hide the others
        entry["error"] = str(exc)[:300]
    return entry


def main():
    module = AnsibleModule(
        argument_spec=dict(
            docker_host=dict(type="str", default="unix:///var/run/docker.sock"),
            instances=dict(type="list", elements="str", default=[]),
            timeout=dict(type="float", default=10),
            workers=dict(type="int", default=64),
            data_root=dict(type="str", default=""),
            disk_max_entries=dict(type="int", default=100000),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        api = DockerApi(params["docker_host"], params["timeout"])
        version = api.get("/version").get("Version")
        filters = json.dumps({"label": ["dbvend.managed=true"]})
        listed = api.get("/containers/json?all=true&filters=%s" % quote(filters))
    except Exception as exc:
        module.fail_json(msg="Cannot read the Docker engine at %s: %s" % (params["docker_host"], exc))
    data_root = params["data_root"]
    wanted = set(params["instances"])
    if wanted:
        listed = [c for c in listed if (c.get("Labels") or {}).get("dbvend.instance") in wanted]
    containers = []
    if listed:
        with ThreadPoolExecutor(max_workers=max(1, min(params["workers"], len(listed)))) as pool:
            containers = list(
                pool.map(lambda c: read_container(api, c, data_root, params["disk_max_entries"]), listed)
            )
    module.exit_json(
        changed=False,
        docker_version=version,
        containers=containers,
        data_root=filesystem(data_root) if data_root else None,
    )


if __name__ == "__main__":
    main()
