from __future__ import annotations

from pathlib import Path

import pytest

from service.inventory import InventoryError, hosts_from_listing, load_inventory
from tests.helpers import ROOT, write_inventory


def test_children_groups_count_and_group_vars_merge() -> None:
    listing = {
        "dbvend_hosts": {"children": ["eu"], "hosts": ["a"]},
        "eu": {"hosts": ["b"]},
        "_meta": {
            "hostvars": {
                "a": {
                    "dbvend_address": "10.0.0.1",
                    "dbvend_port_range": [20000, 20099],
                    "dbvend_capacity_mb": 4096,
                    "dbvend_data_root": "/srv",
                },
                "b": {
                    "dbvend_address": "10.0.0.2",
                    "dbvend_port_range": [21000, 21099],
                    "dbvend_capacity_mb": 2048,
                    "dbvend_data_root": "/srv",
                    "ansible_user": "ops",
                },
            }
        },
    }
    hosts = {h.name: h for h in hosts_from_listing(listing)}
    assert set(hosts) == {"a", "b"}
    assert hosts["b"].port_min == 21000
    assert hosts["b"].capacity_mb == 2048
    assert hosts["b"].variables["ansible_user"] == "ops"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"dbvend_port_range": [80, 90]}, "not within"),
        ({"dbvend_port_range": "lots"}, "must be [first, last]"),
        ({"dbvend_capacity_mb": "big"}, "must be an integer"),
    ],
)
def test_bad_host_vars_are_named(override: dict[str, object], message: str) -> None:
    hostvars = {
        "dbvend_address": "h",
        "dbvend_port_range": [20000, 20001],
        "dbvend_capacity_mb": 1,
        "dbvend_data_root": "/srv",
        **override,
    }
    with pytest.raises(InventoryError, match="host 'a'") as err:
        hosts_from_listing({"dbvend_hosts": {"hosts": ["a"]}, "_meta": {"hostvars": {"a": hostvars}}})
    assert message in str(err.value)


def test_missing_variables_and_empty_group_are_refused() -> None:
    with pytest.raises(InventoryError, match="lacks dbvend_address"):
        hosts_from_listing({"dbvend_hosts": {"hosts": ["a"]}, "_meta": {"hostvars": {"a": {}}}})
    with pytest.raises(InventoryError, match="no hosts"):
        hosts_from_listing({"_meta": {"hostvars": {}}})


async def test_the_shipped_inventory_loads_through_ansible() -> None:
    hosts = await load_inventory(ROOT / "inventory" / "hosts.yml")
    assert [h.name for h in hosts] == ["local"]
    local = hosts[0]
    assert local.address == "127.0.0.1"
    assert (local.port_min, local.port_max) == (20000, 20999)
    # group_vars/dbvend_hosts.yml is merged in, as Ansible itself would.
    assert "dbvend_mysql_image" in local.variables


async def test_a_generated_inventory_loads(tmp_path: Path) -> None:
    ports = (23000, 23010)  # only read back: nothing is deployed on them
    hosts = await load_inventory(write_inventory(tmp_path, ports=ports))
    assert (hosts[0].port_min, hosts[0].port_max) == (23000, 23010)


async def test_a_broken_inventory_file_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "hosts.yml"
    bad.write_text("dbvend_hosts: [unclosed\n")
    with pytest.raises(InventoryError):
        await load_inventory(bad)
