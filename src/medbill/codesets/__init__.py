"""Official code sets: parsers for the release files and the read-only reference store."""
