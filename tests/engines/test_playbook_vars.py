"""The playbooks' engine check is fed from one generated file (playbooks/vars/engines.yml):
it must be what service.engines.playbook_vars renders from ENGINES, and every playbook that
includes an engine's role must load it instead of naming the engines itself."""

from __future__ import annotations

import yaml

from service.engines import ENGINE_NAMES
from service.engines.playbook_vars import PATH, render
from tests.helpers import ROOT


def test_the_generated_file_is_current() -> None:
    assert PATH.read_text() == render(), "run: python -m service.engines.playbook_vars"
    assert yaml.safe_load(PATH.read_text())["dbvend_engines"] == list(ENGINE_NAMES)


def test_every_playbook_of_an_engine_role_checks_against_it() -> None:
    checked = []
    for playbook in sorted((ROOT / "playbooks").glob("*.yml")):
        text = playbook.read_text()
        if 'name: "{{ engine }}"' not in text:
            continue
        checked.append(playbook.name)
        assert "engine in dbvend_engines" in text, playbook.name
        for name in ENGINE_NAMES:
            assert f"'{name}'" not in text, (playbook.name, name)
        for play in yaml.safe_load(text):
            assert "vars/engines.yml" in play.get("vars_files", []), playbook.name
    assert len(checked) == 10, checked
