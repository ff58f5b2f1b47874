"""Response bodies of /api/v1/webhooks, declared once for the handlers and the OpenAPI
document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class WebhookDelivery(BaseModel):
    id: int
    status: Literal["pending", "delivered", "failed"]
    payload_status: str | None = Field(description="firing or resolved")
    attempts: int
    response_status: int | None = Field(description="the receiver's HTTP status; its body is never read")
    error: str | None = Field(description="why the last attempt failed: our words and the status code only")
    created_at: str
    delivered_at: str | None


class Webhook(BaseModel):
    id: int
    url: str = Field(description="as registered, with any user:password shown as ***")
    send_resolved: bool
    owner: str
    scope: str
    created_at: str


class WebhookWithDeliveries(Webhook):
    deliveries: list[WebhookDelivery] = Field(description="the most recent deliveries, newest first")


class WebhookList(BaseModel):
    items: list[Webhook]
