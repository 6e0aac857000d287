"""Day-2 commands built on both pipelines: capacity and cost plans, post-deploy smoke checks."""
