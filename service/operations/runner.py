"""ansible-runner, the way dbvend uses it: one private data dir per run (mode 0700,
removed afterwards, also after a failure; a dead worker's are swept at start), an
inventory in which every instance is an inventory host, and a result per instance read
from the event stream.

ansible-runner writes artifacts/<ident>/command with the whole environment of the
ansible-playbook it starts, and that process (and every module it runs on the controller)
inherits it. So the environment is an allow-list built here, never the service's own,
which holds DATABASE_URL, DBVEND_SECRET_KEY and DBVEND_ADMIN_PASSWORD."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import sys
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_runner.config.runner import RunnerConfig
from ansible_runner.runner import Runner

from .. import pids
from ..config import process_environment

log = logging.getLogger(__name__)

FACTS_KEY = "dbvend_instances"
REPORT_KEYS = ("dbvend_backups", "dbvend_restores")
_HIDDEN = "[secret]"

# What ansible-playbook may inherit from the service's environment, by name. None holds a
# secret; SSH_AUTH_SOCK is a path (an agent for fleet hosts), not a key.
_INHERITED = ("HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "SSH_AUTH_SOCK")
# What ansible-runner adds for its event stream (the awx_display callback).
_RUNNER_PREFIXES = ("ANSIBLE_", "AWX_", "RUNNER_")


@dataclass
class HostOutcome:
    ok: bool = False
    unreachable: bool = False
    error: str | None = None


@dataclass
class RunResult:
    status: str
    rc: int | None
    outcomes: dict[str, HostOutcome] = field(default_factory=dict)
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    message: str | None = None
    # Other set_stats keys (dbvend_backups, dbvend_restores): key -> instance id -> report.
    reports: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def report(self, key: str, host: str) -> dict[str, Any] | None:
        return self.reports.get(key, {}).get(host)

    def outcome(self, host: str) -> HostOutcome:
        return self.outcomes.get(host) or HostOutcome(
            error=f"the playbook run ended ({self.status}, rc {self.rc}) before reaching this instance"
            + (f": {self.message}" if self.message else "")
        )


def redact(text: str, secrets: Iterable[str]) -> str:
    for value in secrets:
        if value:
            text = text.replace(value, _HIDDEN)
    return text


def _failure_message(event_data: Mapping[str, Any]) -> str:
    res = event_data.get("res") or {}
    msg = res.get("msg") if isinstance(res, Mapping) else None
    if not msg and isinstance(res, Mapping):
        msg = res.get("stderr") or res.get("module_stderr") or res.get("reason")
    task = event_data.get("task") or "task"
    return f"{task}: {str(msg or 'failed')[:1000]}"


class _Collector:
    """Turns runner events into per-host outcomes; tells runner not to store them."""

    def __init__(self, hosts: Iterable[str]) -> None:
        self.hosts = set(hosts)
        self.errors: dict[str, str] = {}
        self.unreachable: set[str] = set()
        self.stats: Mapping[str, Any] = {}
        self.artifact: Mapping[str, Any] = {}
        self.messages: list[str] = []  # ansible-playbook's own errors (bad playbook, bad inventory)

    def __call__(self, event: Mapping[str, Any]) -> bool:
        kind = event.get("event")
        data = event.get("event_data") or {}
        host = data.get("host")
        if kind == "runner_on_failed" and not data.get("ignore_errors") and host:
            self.errors.setdefault(host, _failure_message(data))
        elif kind == "runner_on_unreachable" and host:
            self.unreachable.add(host)
            self.errors.setdefault(host, _failure_message(data))
        elif kind in ("verbose", "error") and "ERROR" in str(event.get("stdout", "")):
            self.messages.append(str(event.get("stdout", "")).strip()[:500])
        elif kind == "playbook_on_stats":
            self.stats = data
            self.artifact = data.get("artifact_data") or {}
        return False  # keep no event on disk

    def result(self, status: str, rc: int | None, secrets: Iterable[str]) -> RunResult:
        secret_list = list(secrets)
        outcomes: dict[str, HostOutcome] = {}
        processed: set[str] = set()
        for key in ("ok", "changed", "failures", "dark", "skipped", "ignored", "rescued"):
            processed.update((self.stats.get(key) or {}).keys())
        for host in self.hosts:
            if host in self.errors:
                outcomes[host] = HostOutcome(
                    ok=False,
                    unreachable=host in self.unreachable,
                    error=redact(self.errors[host], secret_list),
                )
            elif host in processed:
                outcomes[host] = HostOutcome(ok=True)
        facts = self.artifact.get(FACTS_KEY) or {}
        reports = {
            key: {k: dict(v) for k, v in value.items() if isinstance(v, Mapping)}
            for key, value in self.artifact.items()
            if key in REPORT_KEYS and isinstance(value, Mapping)
        }
        return RunResult(
            status=status,
            rc=rc,
            outcomes=outcomes,
            facts={k: dict(v) for k, v in facts.items() if isinstance(v, Mapping)},
            reports=reports,
        )


def playbook_env(project_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment dbvend gives ansible-playbook (before ansible-runner's own additions)."""
    env = {name: environ[name] for name in _INHERITED if name in environ}
    env.update(
        {
            "ANSIBLE_CONFIG": str(project_dir / "ansible.cfg"),
            "ANSIBLE_ROLES_PATH": str(project_dir / "roles"),
            "ANSIBLE_NOCOLOR": "1",
            # ansible-runner turns host key checking off unless told; ansible.cfg keeps it on.
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            # The inventory is always the JSON written by the runner: the yaml plugin reads it,
            # and trying the others first (script, auto, ini, toml) costs ~0.2 s CPU a run.
            "ANSIBLE_INVENTORY_ENABLED": "yaml",
            # The ansible-playbook next to this interpreter comes first, whatever PATH says.
            "PATH": f"{Path(sys.executable).parent}:{environ.get('PATH', '/usr/bin:/bin')}",
        }
    )
    env.setdefault("LANG", "C.UTF-8")
    return env


def _without_inherited(
    prepared: Mapping[str, str], ours: Mapping[str, str], environ: Mapping[str, str]
) -> dict[str, str]:
    """ansible-runner seeds its environment with the process's (it has no option not to):
    keep only what we set and what ansible-runner itself added."""
    return {
        name: value
        for name, value in prepared.items()
        if name in ours or (name.startswith(_RUNNER_PREFIXES) and environ.get(name) != value)
    }


class PlaybookRunner:
    def __init__(
        self,
        project_dir: Path,
        runs_dir: Path,
        *,
        forks: int = 50,
        timeout: int = 900,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.project_dir = project_dir
        # The process's environment (live): what ansible-runner seeds its own with.
        self.environ = process_environment() if environ is None else environ
        self.runs_dir = runs_dir
        self.forks = forks
        self.timeout = timeout

    async def run(
        self, playbook: str, hosts: Mapping[str, Mapping[str, Any]], *, secrets: Iterable[str] = ()
    ) -> RunResult:
        """Run playbooks/<playbook> once for every inventory host in `hosts` (in parallel forks)."""
        return await asyncio.to_thread(self._run_sync, playbook, dict(hosts), list(secrets))

    def _run_sync(self, playbook: str, hosts: dict[str, Mapping[str, Any]], secrets: list[str]) -> RunResult:
        self.runs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        run_dir = self.runs_dir / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        run_dir.mkdir(mode=0o700)
        try:
            # ansible-runner would make this one with the umask's mode.
            (run_dir / "artifacts").mkdir(mode=0o700)
            inventory = run_dir / "inventory.json"
            _write_private(inventory, {"all": {"hosts": hosts}})
            # Read from this file only (a `settings` argument is dropped when it is absent):
            # no stdout/stderr files, no output on the service's stdout.
            (run_dir / "env").mkdir(mode=0o700)
            _write_private(
                run_dir / "env" / "settings", {"suppress_ansible_output": True, "suppress_output_file": True}
            )
            collector = _Collector(hosts)
            env = playbook_env(self.project_dir, self.environ)
            config = RunnerConfig(
                private_data_dir=str(run_dir),
                project_dir=str(self.project_dir),
                playbook=str(self.project_dir / "playbooks" / playbook),
                inventory=str(inventory),
                extravars={"dbvend_target": "all"},
                forks=max(1, min(self.forks, len(hosts))),
                quiet=True,
                timeout=self.timeout,
                envvars=env,
                # Facts stay in memory: a jsonfile cache would write them to disk (mode 0755).
                fact_cache_type="memory",
            )
            config.prepare()
            config.env = _without_inherited(config.env, env, self.environ)
            runner = Runner(config, event_handler=collector)
            runner.run()
            return collector.result(str(runner.status), runner.rc, secrets)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)


def _write_private(path: Path, data: Any) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, default=str)


def sweep_stale_runs(runs_dir: Path) -> int:
    """Remove private data dirs left by a worker that died (kill -9), ending any playbook
    process still working in them, so no secret outlives its run and no orphan run races
    the retry. Returns how many dirs were removed."""
    if not runs_dir.exists():
        return 0
    removed = 0
    for run_dir in runs_dir.iterdir():
        pid_text = run_dir.name.split("-", 1)[0]
        if pid_text.isdigit() and pids.alive(int(pid_text)):
            continue
        _kill_processes_using(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)
        removed += 1
    return removed


def _kill_processes_using(run_dir: Path) -> None:
    marker = str(run_dir).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmdline:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
                log.warning("killed orphaned playbook process %s of %s", proc.name, run_dir.name)
            except OSError:
                pass
