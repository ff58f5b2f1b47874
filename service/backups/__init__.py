"""Backups: the encrypted store, the staging area for plaintext, and taking requests."""
