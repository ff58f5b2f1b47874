"""Where plaintext backups live while the service handles them: a 0700 directory under the
state dir, one subdirectory per run (named after the process), removed when the run ends;
a dead process's subdirectories are removed at start."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from .. import pids

log = logging.getLogger(__name__)


class Staging:
    def __init__(self, root: Path) -> None:
        self.root = root

    def make(self) -> Path:
        """A new private directory; the caller removes it (shutil.rmtree) when done."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        path = self.root / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        path.mkdir(mode=0o700)
        return path

    @contextlib.contextmanager
    def run_dir(self) -> Iterator[Path]:
        path = self.make()
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def sweep(self) -> int:
        if not self.root.exists():
            return 0
        removed = 0
        for entry in self.root.iterdir():
            pid = entry.name.split("-", 1)[0]
            if pid.isdigit() and int(pid) > 0 and pids.alive(int(pid)):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        if removed:
            log.warning("removed %d staging dir(s) left by a crashed worker", removed)
        return removed
