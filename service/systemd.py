"""Readiness for systemd (Type=notify): one datagram to $NOTIFY_SOCKET (Settings.notify_socket),
as sd_notify(3) sends it. The protocol is a stable, documented interface that systemd invites
programs to speak themselves; without NOTIFY_SOCKET (not under systemd) this does nothing."""

from __future__ import annotations

import logging
import socket

log = logging.getLogger(__name__)


def notify(address: str | None, state: str) -> bool:
    """Send `state` (such as "READY=1" or "STOPPING=1") to the socket systemd named; False
    when there is no one to tell."""
    if not address or address[0] not in "/@":
        return False
    target = "\0" + address[1:] if address[0] == "@" else address  # "@": abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("could not tell systemd %s: %s", state, exc)
        return False
    return True
