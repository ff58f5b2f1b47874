"""The Open Service Broker API v2.17 at /v2 (docs in the README's "Use as a service broker"):
platforms provision, update, bind and deprovision ordinary dbvend instances, owned by the
broker's account, through the same intake, day-2 actions and per-binding credentials as /api/v1."""
