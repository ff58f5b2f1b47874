"""The runner against a real ansible-playbook: the playbook process (and so ansible-runner's
artifacts/<ident>/command, which records its environment) sees none of the service's
secrets, every file of the private data dir is owner-only, and the dir is gone after the
run, failed or not. The playbook looks from inside: it reports its own environment and
the contents and modes of every file of the run's private data dir."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import Any

import pytest

from service.operations.runner import PlaybookRunner

ROOT = Path(__file__).resolve().parents[2]

SNOOP = """
- name: Look at what the run can see
  hosts: "{{ dbvend_target }}"
  gather_facts: false
  tasks:
    - name: Fail when asked to
      ansible.builtin.fail:
        msg: failing as asked
      when: fail_now | default(false) | bool
    - name: Report the environment and the private data dir
      ansible.builtin.set_stats:
        data:
          dbvend_instances: >-
            {{ {inventory_hostname: {
                 'env': lookup('ansible.builtin.pipe', 'env'),
                 'files': lookup('ansible.builtin.pipe',
                                 'find ' ~ (inventory_dir | quote) ~ ' -type f -exec cat {} +'),
                 'modes': lookup('ansible.builtin.pipe',
                                 'find ' ~ (inventory_dir | quote) ~ ' -printf "%y %m %p\\n"')}} }}
        per_host: false
        aggregate: true
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "playbooks").mkdir(parents=True)
    (project / "roles").mkdir()
    shutil.copy(ROOT / "ansible.cfg", project / "ansible.cfg")
    (project / "playbooks" / "snoop.yml").write_text(SNOOP)
    return project


@pytest.fixture
def service_secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "DBVEND_ADMIN_PASSWORD": "adm-" + secrets.token_hex(12),
        "DBVEND_SECRET_KEY": "key-" + secrets.token_hex(16),
        "DATABASE_URL": f"postgresql://dbvend:pw-{secrets.token_hex(12)}@127.0.0.1:5432/dbvend",
        # Any other variable the service happens to have must not pass either.
        "SOME_TOKEN": "tok-" + secrets.token_hex(12),
        "ANSIBLE_SECRETISH": "ans-" + secrets.token_hex(12),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def host(**extra: Any) -> dict[str, Any]:
    python = "{{ ansible_playbook_python }}"
    return {"ansible_connection": "local", "ansible_python_interpreter": python, **extra}


async def test_the_playbook_sees_no_service_secret_and_its_files_are_private(
    project: Path, tmp_path: Path, service_secrets: dict[str, str]
) -> None:
    runs = tmp_path / "runs"
    runner = PlaybookRunner(project, runs)
    result = await runner.run("snoop.yml", {"one": host()})
    assert result.outcome("one").ok, result
    seen = result.facts["one"]
    env = dict(line.split("=", 1) for line in seen["env"].splitlines() if "=" in line)
    assert not set(env) & set(service_secrets), sorted(env)
    for value in service_secrets.values():
        assert value not in seen["env"]
        # artifacts/<ident>/command (the environment ansible-runner recorded) among them.
        assert value not in seen["files"]
    assert '"env"' in seen["files"], "the command artifact was not there to look at"
    # What the play needs did pass.
    assert env["ANSIBLE_CONFIG"] == str(project / "ansible.cfg")
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert "HOME" in env
    assert "PATH" in env
    # Owner-only: dirs 0700, files 0600 (the inventory holds instance variables).
    modes = [line.split(" ", 2) for line in seen["modes"].splitlines()]
    assert modes
    for kind, mode, path in modes:
        assert int(mode, 8) & 0o077 == 0, (kind, mode, path)
    assert list(runs.iterdir()) == []


async def test_the_private_data_dir_is_removed_after_a_failed_run(project: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = await PlaybookRunner(project, runs).run(
        "snoop.yml", {"one": host(fail_now=True, instance_secret="s3cr3t-" + secrets.token_hex(8))}
    )
    assert not result.outcome("one").ok
    assert "failing as asked" in (result.outcome("one").error or "")
    assert list(runs.iterdir()) == []
