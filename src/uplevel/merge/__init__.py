"""Three-way merge engines (pure: bytes in, bytes out)."""
