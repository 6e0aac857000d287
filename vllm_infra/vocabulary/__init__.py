"""Words every pipeline shares: Kubernetes facts, units, field paths, exit codes, report terms and
the limits that both the spec's bounds and the rules' thresholds are built from."""
