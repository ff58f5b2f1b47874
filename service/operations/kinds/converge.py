"""converge: after a warm pool claim (service/instances/warm.py), playbooks/converge.yml records
the claimed slot as the instance it now is (its files written for the instance's settings and
accounts, the container neither recreated nor restarted), so a later provision.yml run by ops
reports changed=0. Batched and retried like any day-2 kind; the instance serves its tenant
throughout, and a converge that fails for good leaves it running (the claim already applied
everything live and in the server's own files)."""

from __future__ import annotations

from typing import ClassVar

from .day2 import Day2Kind


class ConvergeKind(Day2Kind):
    name = "converge"
    playbook: ClassVar[str] = "converge.yml"
    # The claim checked the server as the tenant; the play restarts nothing.
    wait_ready: ClassVar[bool] = False
