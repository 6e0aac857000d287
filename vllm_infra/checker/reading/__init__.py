"""The checker's reading layer: what a manifest says, read the way Kubernetes, the shell and vLLM
read it (objects, pod templates, containers, command lines, environment, engine flags,
accelerators, the bundle of objects checked together). Rules and the scheduling simulation build
on it; it knows nothing of either."""
