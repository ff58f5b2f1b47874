"""One module per operation kind; the worker claims a batch and hands each kind its share.

A new kind (stop, start, ...) is a module here with a class that has `name` and
`async def run(ctx, ops)` (base.OperationKind), its outcome decision as a pure function in
../outcomes.py, and an entry in KINDS. The worker claims only the kinds in KINDS. The
day-2 kinds share their run in day2.py."""

from __future__ import annotations

from collections.abc import Mapping

from .backup import BackupKind
from .base import LeaseLost, OperationKind, RunContext
from .converge import ConvergeKind
from .create import CreateKind
from .credentials import BindKind, UnbindKind
from .delete import DeleteKind
from .reconfigure import ReconfigureKind
from .repair import RepairKind
from .restart import RestartKind
from .restore import RestoreKind
from .rotate import RotateKind
from .rotate_certificate import RotateCertificateKind
from .start import StartKind
from .stop import StopKind

KINDS: Mapping[str, OperationKind] = {
    kind.name: kind
    for kind in (
        CreateKind(),
        DeleteKind(),
        RepairKind(),
        StopKind(),
        StartKind(),
        RestartKind(),
        ReconfigureKind(),
        RotateKind(),
        RotateCertificateKind(),
        BackupKind(),
        RestoreKind(),
        ConvergeKind(),
        BindKind(),
        UnbindKind(),
    )
}

__all__ = ["KINDS", "LeaseLost", "OperationKind", "RunContext"]
