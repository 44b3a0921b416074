"""The engine: workers that claim tasks, hold leases and walk workflow graphs."""
