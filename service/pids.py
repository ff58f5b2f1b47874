"""Process ids: whether one is alive, and where an id names one process at all (this host
and PID namespace). Recovery (a dead worker's leases and run dirs) and the staging sweep ask."""

from __future__ import annotations

import os
import socket


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def local_scope() -> str:
    """Where a process id means one process: this host name, and the PID namespace when
    there is one to name. Containers sharing the host's network (and so its host name) each
    have their own PID namespace: without it, one container's start would take another's
    process ids for dead ones and expire live leases (operations/recovery.py)."""
    scope = socket.gethostname()
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return scope
    inode = namespace.partition("[")[2].rstrip("]")
    return f"{scope}/{inode}" if inode.isdigit() else scope
