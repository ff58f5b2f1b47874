"""Operations, below the domains that ask for them: what a request checks before one is
recorded (admission.py, quota.py, placing), the worker that claims and runs them (worker.py,
kinds/, outcomes.py), ansible-runner (runner.py), waiting for one to end (waiter.py), and
what a restart finishes or fails cleanly (recovery.py)."""
