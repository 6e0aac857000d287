"""YAML in and out: a deterministic writer for rendered objects."""
