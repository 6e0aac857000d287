"""Will it fit, and how long will it take to start? Pure arithmetic over catalog facts, shared by
the spec (which refuses what cannot run), ``plan`` and the rules that judge hand-written YAML."""
