"""The engine: the only code that reads and changes a home on disk: durable writes (fsio), scans, state, local changes, profiles, the journaled transaction."""
