"""The PLAY RECAP of ansible-playbook's default output, per host."""

from __future__ import annotations

import re

_RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def play_recap(output: str) -> dict[str, dict[str, int]]:
    """{host: {ok, changed, unreachable, failed}} for every host in the recap."""
    return {
        m.group(1): {
            "ok": int(m.group(2)),
            "changed": int(m.group(3)),
            "unreachable": int(m.group(4)),
            "failed": int(m.group(5)),
        }
        for m in _RECAP.finditer(output)
    }
