"""Which URLs the service may call on a user's behalf (webhooks).

A URL passes when its scheme is http or https, its host parses strictly (one spelling of
an IP address, or a DNS name), and every address the host resolves to is public: not
loopback, private, link-local, shared, unique-local, site-local, multicast, unspecified,
reserved or documentation space, nor an IPv4 address written as IPv6. An admin may allow
networks (DBVEND_WEBHOOK_ALLOW); the service's own listen address is refused even then.

No aiohttp here: the delivery session's resolver asks `EgressPolicy.addresses` and
connects to exactly the addresses it returns, so the address checked is the address
connected to. Reasons (str of EgressRefused) are meant for users: they never hold the
URL, its credentials, or an address a name resolved to (that would map internal DNS).
"""

from __future__ import annotations

import asyncio
import socket
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import TYPE_CHECKING, TypeAlias

from yarl import URL

if TYPE_CHECKING:
    from ..config import Settings

IPAddress: TypeAlias = IPv4Address | IPv6Address
IPNetwork: TypeAlias = IPv4Network | IPv6Network
# host, port -> the addresses (text) the host resolves to; raises OSError when it does not
Resolve: TypeAlias = Callable[[str, int], Awaitable[Sequence[str]]]

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT = 5.0
_MAX_ADDRESSES = 32
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_LOOPBACK = (ip_network("127.0.0.0/8"), ip_network("::1/128"))
_SHARED = ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ip_network("fc00::/7")
_NAT64 = ip_network("64:ff9b::/96")
_V4_COMPATIBLE = ip_network("::/96")
_GLOBAL_UNICAST_V6 = ip_network("2000::/3")
_DOCUMENTATION = tuple(
    ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")
)


class EgressRefused(OSError):
    """This URL or address may not be called; str() is the reason, fit for the user."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # ASCII (IDNA), lower case, no trailing dot; an IPv6 literal without brackets
    port: int
    address: IPAddress | None  # the host, when it is an IP literal

    @property
    def netloc(self) -> str:
        """host:port without credentials, for logs."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def redact(url: str) -> str:
    """The URL with any user:password replaced by ***, for views; unparsable → '***'."""
    try:
        parsed = URL(url)
    except ValueError:
        return "***"
    if parsed.raw_user is None and parsed.raw_password is None:
        return url
    return str(parsed.with_password(None).with_user("***"))


def _refuse_characters(url: str) -> None:
    if len(url) > MAX_URL_LENGTH:
        raise EgressRefused(f"is longer than {MAX_URL_LENGTH} characters")
    for char in url:
        # Control, format (bidi, zero-width) and space characters; a backslash is read as
        # a slash by browsers and as data by others.
        if char == "\\" or char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            raise EgressRefused("holds whitespace, a backslash or a control character")


def _is_numeric_label(label: str) -> bool:
    # What WHATWG URL parsers (and inet_aton) read as a number: 127, 0177, 0x7f.
    return label.isdigit() or label[:2] == "0x"


def _host(raw: str) -> tuple[str, IPAddress | None]:
    host = raw.lower()
    if ":" in host:
        if "%" in host:
            raise EgressRefused("an IPv6 zone identifier is not allowed")
        try:
            return host, IPv6Address(host)
        except ValueError:
            raise EgressRefused("has an invalid IPv6 address") from None
    if host.endswith("."):
        host = host[:-1]
    if not host or len(host) > 253:
        raise EgressRefused("has an invalid host name")
    labels = host.split(".")
    if _is_numeric_label(labels[-1]):
        try:
            return host, IPv4Address(host)
        except ValueError:
            # 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 all mean 127.0.0.1 to some parser.
            raise EgressRefused("the host is not an IPv4 address in dotted decimal form") from None
    for label in labels:
        if not 1 <= len(label) <= 63 or label[0] == "-" or label[-1] == "-" or not set(label) <= _NAME_CHARS:
            raise EgressRefused("has an invalid host name")
    return host, None


def _is_localhost(host: str) -> bool:
    # RFC 6761: these names are loopback whatever a resolver says.
    name = host.lower().removesuffix(".")
    return name == "localhost" or name.endswith(".localhost")


def parse(url: str) -> Target:
    """The URL's scheme, host and port, parsed as the delivery client (yarl) parses them."""
    _refuse_characters(url)
    try:
        parsed = URL(url)
        port = parsed.port
    except ValueError:
        raise EgressRefused("is not a valid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise EgressRefused("must be an http:// or https:// URL")
    if not parsed.absolute or not parsed.raw_host:
        raise EgressRefused("must be an absolute URL with a host")
    if port is None or not 1 <= port <= 65535:
        raise EgressRefused("has an invalid port")
    host, address = _host(parsed.raw_host)
    return Target(parsed.scheme, host, port, address)


def _embedded_v4(address: IPv6Address) -> tuple[IPv4Address, str] | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    if address.teredo is not None:
        return address.teredo[1], "Teredo"
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address in _V4_COMPATIBLE and int(address) > 1:
        return IPv4Address(int(address) & 0xFFFFFFFF), "IPv4-compatible"
    return None


def _kind(address: IPAddress) -> str | None:
    """What makes the address non-public, or None when it is public."""
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, IPv4Address) and address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if isinstance(address, IPv6Address) and address.is_site_local:
        return "a site-local address"
    if isinstance(address, IPv6Address) and address in _UNIQUE_LOCAL:
        return "a unique-local address"
    if any(address in net for net in _DOCUMENTATION):
        return "a documentation address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    if isinstance(address, IPv6Address) and address not in _GLOBAL_UNICAST_V6:
        return "not a global unicast address"
    return None


class EgressPolicy:
    def __init__(
        self,
        *,
        allow: Iterable[IPNetwork] = (),
        own: Iterable[tuple[IPNetwork, int]] = (),
        resolve: Resolve | None = None,
        timeout: float = RESOLVE_TIMEOUT,
    ) -> None:
        self.allow = tuple(allow)
        self.own = tuple(own)  # (network, port): the service's own listen addresses
        self._resolve = resolve or system_resolve
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings, resolve: Resolve | None = None) -> EgressPolicy:
        return cls(
            allow=settings.webhook_allow,
            own=own_addresses(settings.listen_host, settings.listen_port),
            resolve=resolve,
        )

    def _allowed(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.allow)

    def refusal(self, address: IPAddress, port: int) -> str | None:
        """Why (address, port) may not be called, or None when it may."""
        embedded = _embedded_v4(address) if isinstance(address, IPv6Address) else None
        forms = [address] if embedded is None else [address, embedded[0]]
        for net, own_port in self.own:
            if port == own_port and any(a.version == net.version and a in net for a in forms):
                return "is this service's own listen address"
        if any(self._allowed(a) for a in forms):
            return None
        if embedded is not None:
            inner, how = embedded
            inner_kind = _kind(inner)
            if inner_kind is not None or how in ("IPv4-mapped", "IPv4-compatible"):
                return f"is an IPv6 address wrapping an IPv4 address ({how})" + (
                    f", {inner_kind}" if inner_kind else ""
                )
        kind = _kind(address)
        return f"is {kind}" if kind else None

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to for (host, port), each one checked; raises
        EgressRefused when any of them (or the host's name) is refused."""
        literal = _host(host)[1]
        if literal is not None:
            found = [literal]
        elif _is_localhost(host):
            found = [IPv4Address("127.0.0.1")]
        else:
            try:
                texts = await asyncio.wait_for(self._resolve(host, port), self.timeout)
                # Only these are returned, so only checked addresses are connected to.
                found = list(dict.fromkeys(ip_address(t.partition("%")[0]) for t in texts[:_MAX_ADDRESSES]))
            except (OSError, TimeoutError, ValueError):  # ValueError: UnicodeError, a bad answer
                raise EgressRefused("the host does not resolve") from None
            if not found:
                raise EgressRefused("the host does not resolve")
        for address in found:
            reason = self.refusal(address, port)
            if reason is not None:
                where = "the host" if literal is not None else "the host resolves to an address that"
                raise EgressRefused(f"{where} {reason}")
        return found

    def preflight(self, url: str) -> Target:
        """Checks that need no DNS: the URL's form and an IP-literal host (which an HTTP
        client connects to without asking its resolver)."""
        target = parse(url)
        if target.address is not None:
            reason = self.refusal(target.address, target.port)
            if reason is not None:
                raise EgressRefused(f"the host {reason}")
        return target

    async def check(self, url: str) -> Target:
        """Everything, DNS included: for a URL a user registers."""
        target = self.preflight(url)
        if target.address is None:
            await self.addresses(target.host, target.port)
        return target


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def own_addresses(listen_host: str, listen_port: int) -> tuple[tuple[IPNetwork, int], ...]:
    """The service's own listen addresses as (network, port). A wildcard bind listens on
    loopback too; a name is resolved once, at start (it names this machine)."""
    try:
        listen = ip_address(listen_host)
    except ValueError:
        try:
            infos = socket.getaddrinfo(listen_host, listen_port, type=socket.SOCK_STREAM)
        except OSError:
            infos = []
        found = {ip_address(str(i[4][0]).partition("%")[0]) for i in infos}
        nets: list[IPNetwork] = [ip_network(a) for a in found]
        if any(a.is_loopback for a in found):
            nets += _LOOPBACK
        return tuple((n, listen_port) for n in nets)
    if listen.is_unspecified:
        return tuple((n, listen_port) for n in _LOOPBACK)
    return ((ip_network(listen), listen_port),)
