"""Where backups are kept, below the operations that make and read them: the encrypted store
(store.py, envelope.py: one AES-GCM file per backup, streamed both ways), the plaintext
staging area (staging.py) and the store host that may keep the ciphertext instead
(remote.py, playbooks/backup_store.yml)."""
