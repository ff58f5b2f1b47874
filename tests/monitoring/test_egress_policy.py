"""The webhook egress policy on its own (no service): which URLs, in which spellings, it
refuses, what an admin's allow-list changes, and that a name is judged by every address
it resolves to (an injected resolver stands in for DNS)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from ipaddress import ip_network
from pathlib import Path

import pytest

from service.config import ConfigError, Settings, load_settings
from service.monitoring.egress import (
    EgressPolicy,
    EgressRefused,
    IPNetwork,
    Resolve,
    own_addresses,
    parse,
    redact,
)
from tests.helpers import write_inventory

PUBLIC = "93.184.215.14"


def resolver(names: Mapping[str, Sequence[str]]) -> Resolve:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in names:
            raise OSError(f"{host} does not resolve")  # what getaddrinfo raises
        return names[host]

    return resolve


NAMES = {
    "hooks.example.org": [PUBLIC],
    "rebind.example.org": ["127.0.0.1"],
    "metadata.example.org": ["169.254.169.254"],
    "half.example.org": [PUBLIC, "10.0.0.7"],
    "v6.example.org": ["2606:4700::1111"],
    "v6-local.example.org": ["2606:4700::1111", "::1"],
    "mapped.example.org": ["::ffff:10.0.0.1"],
    "garbage.example.org": ["not-an-address"],
    "empty.example.org": [],
}


def policy(allow: Sequence[IPNetwork] = ()) -> EgressPolicy:
    return EgressPolicy(allow=allow, resolve=resolver(NAMES), own=own_addresses("127.0.0.1", 8080))


REFUSED = [
    # the four
    ("http://127.0.0.1:2375/containers/json", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.0.0.1/", "private"),
    ("http://[::1]:54329/", "loopback"),
    # other spellings of loopback
    ("http://0x7f000001/", "dotted decimal"),
    ("http://2130706433/", "dotted decimal"),
    ("http://0177.0.0.1/", "dotted decimal"),
    ("http://127.1/", "dotted decimal"),
    ("http://127.0.0.1./", "loopback"),
    ("http://localhost/", "loopback"),
    ("http://LOCALHOST./", "loopback"),
    ("http://api.localhost:9/", "loopback"),
    ("http://[0:0:0:0:0:0:0:1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"),
    ("http://[::ffff:7f00:1]/", "IPv4-mapped"),
    ("http://[::127.0.0.1]/", "IPv4-compatible"),
    ("http://[2002:7f00:1::]/", "6to4"),
    ("http://[64:ff9b::a00:1]/", "NAT64"),
    (
        "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",
        "loopback",
    ),  # fullwidth digits: IDNA maps them to ASCII
    ("http://ⓛocalhost/", "loopback"),
    # the other non-public ranges
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "shared"),
    ("http://0.0.0.0:8080/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.251/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[fd00::1]/", "unique-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]/", "zone"),
    ("http://[fec0::1]/", "site-local"),
    ("http://192.0.2.10/", "documentation"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    # names that resolve inward
    ("http://rebind.example.org/", "resolves to an address that is a loopback"),
    ("http://metadata.example.org/", "link-local"),
    ("http://half.example.org/", "private"),  # every address counts, not the first
    ("http://v6-local.example.org/", "loopback"),
    ("http://mapped.example.org/", "IPv4-mapped"),
    ("http://nowhere.example.org/", "does not resolve"),
    ("http://garbage.example.org/", "does not resolve"),
    ("http://empty.example.org/", "does not resolve"),
    # form
    ("ftp://hooks.example.org/", "http"),
    ("http:///x", "absolute"),
    ("http://hooks.example.org:0/", "port"),
    ("http://hooks example.org/", "whitespace"),
    ("http://hooks.example.org/\x00", "control"),
    ("http://hooks.example.org/\u202e", "control"),
    ("http://evil.example\\@127.0.0.1/", "backslash"),
    ("http://127.0.0.1%2f.example.org/", "invalid host"),
    ("http://-bad-.example.org/", "invalid host"),
    ("http://hooks.example.org/" + "a" * 2048, "longer than 2048"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED, ids=[u[:60] for u, _ in REFUSED])
async def test_refused(url: str, why: str) -> None:
    with pytest.raises(EgressRefused) as refused:
        await policy().check(url)
    assert why in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.org/alert",
        f"http://{PUBLIC}:9093/api",
        "https://[2606:4700::1111]/x",
        "https://v6.example.org/x",
        "https://HOOKS.Example.ORG./x",
        "https://user:pass@hooks.example.org/x",
    ],
)
async def test_public_addresses_pass(url: str) -> None:
    target = await policy().check(url)
    assert target.scheme in ("http", "https")


async def test_a_refusal_never_holds_the_url_its_credentials_or_the_resolved_address() -> None:
    for url in ("http://alice:s3cret-pw@10.1.2.3/x", "http://alice:s3cret-pw@metadata.example.org/x"):
        with pytest.raises(EgressRefused) as refused:
            await policy().check(url)
        text = str(refused.value)
        assert "s3cret" not in text
        assert "alice" not in text
        assert "169.254" not in text
        assert "10.1.2.3" not in text


async def test_the_allow_list_opens_a_network_and_nothing_else() -> None:
    allowing = policy(allow=[ip_network("127.0.0.0/8")])
    for url in (
        "http://127.0.0.1:9/x",
        "http://127.3.4.5:9/x",
        "http://localhost:9/x",
        "http://[::ffff:127.0.0.1]:9/",
    ):
        await allowing.check(url)
    await allowing.check("http://rebind.example.org:9/")
    for url in ("http://[::1]:9/", "http://10.0.0.1/", "http://169.254.169.254/", "http://half.example.org/"):
        with pytest.raises(EgressRefused):
            await allowing.check(url)


async def test_the_services_own_listen_address_is_refused_even_when_allowed() -> None:
    allowing = policy(allow=[ip_network("127.0.0.0/8")])
    with pytest.raises(EgressRefused, match="own listen address"):
        await allowing.check("http://127.0.0.1:8080/api/v1/users")
    with pytest.raises(EgressRefused, match="own listen address"):
        await allowing.check("http://localhost:8080/")
    await allowing.check("http://127.0.0.1:8081/")  # another port is another service
    # A wildcard bind listens on loopback as well; a public bind address is refused by itself.
    wildcard = EgressPolicy(allow=[ip_network("127.0.0.0/8")], own=own_addresses("0.0.0.0", 8080))  # noqa: S104
    with pytest.raises(EgressRefused, match="own listen address"):
        await wildcard.check("http://127.0.0.2:8080/")
    public_bind = EgressPolicy(own=own_addresses(PUBLIC, 443))
    with pytest.raises(EgressRefused, match="own listen address"):
        await public_bind.check(f"https://{PUBLIC}/")
    await public_bind.check(f"http://{PUBLIC}:80/")


async def test_a_slow_resolver_is_cut_short() -> None:
    async def hang(host: str, port: int) -> Sequence[str]:
        await asyncio.sleep(60)
        return [PUBLIC]

    slow = EgressPolicy(resolve=hang, timeout=0.2)
    with pytest.raises(EgressRefused, match="does not resolve"):
        await asyncio.wait_for(slow.check("http://slow.example.org/"), 30)


async def test_the_system_resolver_refuses_what_the_machine_resolves_inward() -> None:
    # localhost and this machine's own name resolve to loopback here (/etc/hosts).
    system = EgressPolicy()
    for url in ("http://localhost:9/", "http://127.0.0.1:9/"):
        with pytest.raises(EgressRefused):
            await system.check(url)


def test_parse_is_the_delivery_clients_reading() -> None:
    # yarl (what aiohttp sends with) takes the last @ as the end of the credentials.
    assert parse("http://a@b@127.0.0.1:81/").host == "127.0.0.1"
    assert parse("http://xn--mnchen-3ya.de/").host == "xn--mnchen-3ya.de"
    assert parse("http://münchen.de/").host == "xn--mnchen-3ya.de"
    assert parse("https://h.example.org").port == 443


def test_redact_masks_credentials_only() -> None:
    assert redact("https://user:secret@h.example.org:81/p?q=1") == "https://***@h.example.org:81/p?q=1"
    assert redact("https://token@h.example.org/p") == "https://***@h.example.org/p"
    assert redact("https://h.example.org/p?q=1") == "https://h.example.org/p?q=1"


def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    inventory = write_inventory(tmp_path / "inventory")
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("DBVEND_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DBVEND_INVENTORY", str(inventory))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings()


def test_allow_list_and_limit_come_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(
        tmp_path, monkeypatch, DBVEND_WEBHOOK_ALLOW="127.0.0.0/8, fd12:3456::/32", DBVEND_WEBHOOK_LIMIT="3"
    )
    assert settings.webhook_allow == (ip_network("127.0.0.0/8"), ip_network("fd12:3456::/32"))
    assert settings.webhook_limit == 3
    monkeypatch.delenv("DBVEND_WEBHOOK_ALLOW")
    monkeypatch.delenv("DBVEND_WEBHOOK_LIMIT")
    default = load_settings()
    assert default.webhook_allow == ()
    assert default.webhook_limit == 10


@pytest.mark.parametrize("raw", ["127.0.0.1/8", "10.0.0.0/33", "localhost", "10.0.0.0/8;rm"])
def test_a_bad_allow_list_stops_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    with pytest.raises(ConfigError, match="DBVEND_WEBHOOK_ALLOW"):
        _settings(tmp_path, monkeypatch, DBVEND_WEBHOOK_ALLOW=raw)
