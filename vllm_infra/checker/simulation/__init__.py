"""Will it schedule, roll, drain and scale on this cluster: a model of kube-scheduler's filters
over a declared node inventory, and the scenarios (fleet at min/max, rollouts, drains, a lost
zone, node scale-out) played on it. It reads any manifests, like the rules."""
