"""Checking any manifests, rendered or not: load YAML -> schemas and rules -> report."""
