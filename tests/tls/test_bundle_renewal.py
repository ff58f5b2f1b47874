"""The CA bundle across a CA rotation, and when a certificate is renewed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.tls import (
    TlsError,
    bundle,
    issue,
    make_authority,
    renew_at,
    renewal_due,
    server_names,
    verify_server,
)
from tests.tls.material import NOW


def test_during_a_rotation_the_bundle_verifies_certificates_of_both_cas() -> None:
    old, new = make_authority(NOW), make_authority(NOW)
    both = bundle([new.certificate_pem, old.certificate_pem, new.certificate_pem])
    # Each CA once, in the order given (the new one first).
    assert both == new.certificate_pem + old.certificate_pem
    names = server_names("192.0.2.10", "i-7f3k2q9x")
    for ca in (old, new):
        cert = issue(ca, names, now=NOW).certificate_pem
        verify_server(cert, both, host="192.0.2.10", now=NOW)
    # Once the old CA is dropped, its certificates stop verifying: re-issue them all first.
    only_new = bundle([new.certificate_pem])
    with pytest.raises(TlsError):
        verify_server(issue(old, names, now=NOW).certificate_pem, only_new, host="192.0.2.10", now=NOW)


def test_the_bundle_holds_certificates_only() -> None:
    with pytest.raises(TlsError, match="not a PEM certificate"):
        bundle([make_authority(NOW).key_pem()])
    assert bundle([]) == ""


def test_renewal_is_due_at_two_thirds_of_the_life() -> None:
    issued = issue(make_authority(NOW), server_names("192.0.2.10", "i-7f3k2q9x"), now=NOW)
    start, end = issued.not_before, issued.not_after
    at = renew_at(start, end)
    assert at == start + (end - start) * 2 / 3
    assert timedelta(days=59, hours=23) < at - NOW <= timedelta(days=60)
    assert not renewal_due(start, end, at - timedelta(seconds=1))
    assert renewal_due(start, end, at)
    assert renewal_due(start, end, end + timedelta(days=1))
    # A certificate of a CA being retired is renewed at once, however young.
    assert renewal_due(start, end, NOW, issuer_active=False)
