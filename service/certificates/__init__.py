"""The deployment's TLS authority as the API shows it: the CA bundle users verify instances
with (GET /api/v1/tls/ca.pem, public), the CAs and a CA rotation (admin). The CA itself is
made or imported when the process starts (the runtime's `tls` component); an instance's own
certificate is the instances domain's (rotate-certificate, renewal)."""
