"""The HTTP toolkit every domain's routes share: what a handler declares (contract.py) and
the OpenAPI document made from it, the one error shape and its middleware, the checks at the
edge, reading JSON bodies and query strings, cursors, who is asking (identity.py), what the
monitoring gateway reads off a request (notes.py), an operation's answers, and the console."""
