from __future__ import annotations

from service.placement import HostLoad, choose_host, lowest_free_port


def host(name: str, capacity: int, committed: int, instances: int = 0) -> HostLoad:
    return HostLoad(name, capacity, committed, instances, 20000, 20009)


def test_least_committed_share_wins() -> None:
    hosts = [host("a", 8000, 4000), host("b", 4000, 1000), host("c", 8000, 3000)]
    chosen = choose_host(hosts, 256)
    assert chosen is not None
    assert chosen.name == "b"


def test_ties_go_to_fewer_instances_then_name() -> None:
    hosts = [host("b", 1000, 0, 2), host("a", 1000, 0, 2), host("c", 1000, 0, 1)]
    assert choose_host(hosts, 100).name == "c"  # type: ignore[union-attr]
    assert choose_host(hosts[:2], 100).name == "a"  # type: ignore[union-attr]


def test_a_host_without_room_is_skipped() -> None:
    hosts = [host("a", 1000, 900), host("b", 10000, 9000)]
    chosen = choose_host(hosts, 200)
    assert chosen is not None
    assert chosen.name == "b"
    assert choose_host(hosts, 5000) is None
    assert choose_host([], 1) is None


def test_lowest_free_port() -> None:
    assert lowest_free_port(20000, 20009, []) == 20000
    assert lowest_free_port(20000, 20009, {20000, 20001, 20003}) == 20002
    assert lowest_free_port(20000, 20001, {20000, 20001}) is None
