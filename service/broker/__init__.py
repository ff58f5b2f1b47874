"""The Open Service Broker API v2.17 at /v2 (docs in the README's "Use as a service broker"):
platforms provision, update, bind and deprovision ordinary dbvend instances, owned by the
broker's account. A thin protocol adapter: OSB's requests and answers (protocol.py, models.py,
catalog.py) over the instance, credential, plan and account services (services.py), the
same ones /api/v1 calls; only the OSB ids' mapping to dbvend's is its own (db/broker.py)."""
