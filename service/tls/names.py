"""The names a certificate may carry. dbvend chooses them all: the host's address from the
inventory (`dbvend_address`) and ids it generated (instance, member). Nothing a tenant
typed (an instance's `name`, a database) ever becomes a certificate name, and no name is
a wildcard, so a certificate never names another tenant's host or instance."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from cryptography import x509

from .errors import TlsError

# One DNS label, letters-digits-hyphens (RFC 1123), lower case: no wildcard, no underscore.
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
# Ids dbvend makes: an instance (i-7f3k2q9x; the roles accept [a-z0-9][a-z0-9-]{1,62}) or a
# member of one (HA, later): DNS labels themselves.
_ID = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])")


@dataclass(frozen=True)
class Names:
    """What a certificate is valid for, in subjectAltName order: the address clients
    connect to first, then dbvend's own ids (a client that knows the id may verify it
    instead of the address: on one host every instance shares the address)."""

    address: x509.IPAddress | x509.DNSName
    ids: tuple[str, ...]

    def general_names(self) -> list[x509.GeneralName]:
        return [self.address, *(x509.DNSName(i) for i in self.ids)]

    def describe(self) -> tuple[str, ...]:
        """Stable text for records and events: IP:<addr>, DNS:<name>."""
        first = self.address
        lead = f"IP:{first.value}" if isinstance(first, x509.IPAddress) else f"DNS:{first.value}"
        return (lead, *(f"DNS:{i}" for i in self.ids))


def address_name(address: str) -> x509.IPAddress | x509.DNSName:
    """An IP literal becomes an iPAddress name (clients compare those for an IP host), any
    other address a dNSName, checked to be a plain host name."""
    if not isinstance(address, str) or not address or len(address) > 253:
        raise TlsError("the host address must be an IP address or a DNS name of at most 253 characters")
    try:
        return x509.IPAddress(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        pass
    name = address.lower().removesuffix(".")
    labels = name.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise TlsError(
            f"the host address {address[:80]!r} is neither an IP address nor a DNS name"
            " (letters, digits and inner hyphens per label; no wildcard)"
        )
    # "10.1.2" or "127.1" is an IP address written short (clients may read it as one),
    # never a name: a DNS name's last label is not all digits (RFC 3696).
    if labels[-1].isdigit():
        raise TlsError(f"the host address {address[:80]!r} looks like an incomplete IP address")
    return x509.DNSName(name)


def check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise TlsError(f"the {what} {str(value)[:80]!r} is not a DNS label of dbvend's ids")
    return value


def server_names(address: str, instance_id: str) -> Names:
    """A server certificate of one instance: the host's address and the instance's id.
    A warm-pool slot's id is the id of the instance that claims it, so a slot's
    certificate is already the instance's."""
    return Names(address_name(address), (check_id(instance_id, "instance id"),))


def member_names(address: str, instance_id: str, member: str) -> Names:
    """A member of a multi-member instance (HA, later): its host's address, the member's
    id and the instance's id (members verify each other by the member id)."""
    return Names(
        address_name(address),
        (check_id(member, "member id"), check_id(instance_id, "instance id")),
    )
