"""Offline, strict schema validation (Kubernetes core + vendored add-on CRDs)."""
