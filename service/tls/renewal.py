"""When a certificate is renewed: at two thirds of its life (day 60 of 90), leaving a third
(30 days) for a renewal that keeps failing to be noticed (an event per failure) and fixed
before anything expires; at once when its CA is being retired (a CA rotation)."""

from __future__ import annotations

from datetime import datetime

RENEW_NUMERATOR, RENEW_DENOMINATOR = 2, 3


def renew_at(not_before: datetime, not_after: datetime) -> datetime:
    return not_before + (not_after - not_before) * RENEW_NUMERATOR / RENEW_DENOMINATOR


def renewal_due(
    not_before: datetime, not_after: datetime, now: datetime, *, issuer_active: bool = True
) -> bool:
    return not issuer_active or now >= renew_at(not_before, not_after)
