"""Offline, strict schema validation of rendered objects (Kubernetes core + vendored add-on CRDs)."""
