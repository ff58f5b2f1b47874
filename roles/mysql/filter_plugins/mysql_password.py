"""mysql_native_password hashes, so the role hands MariaDB (its container env, its init
file) hashes and never a password: `'pw' | dbvend_mysql_native_password` is what
`SELECT PASSWORD('pw')` returns, '*' and 40 upper-case hex digits of SHA1(SHA1(pw))."""

from __future__ import annotations

import hashlib

from ansible.errors import AnsibleFilterError


def dbvend_mysql_native_password(password: object) -> str:
    if not isinstance(password, str) or not password:
        # The value is a password: never put it in the message.
        raise AnsibleFilterError("dbvend_mysql_native_password needs a non-empty string")
    inner = hashlib.sha1(password.encode("utf-8")).digest()  # noqa: S324 - MariaDB's own scheme
    return "*" + hashlib.sha1(inner).hexdigest().upper()  # noqa: S324


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {"dbvend_mysql_native_password": dbvend_mysql_native_password}
