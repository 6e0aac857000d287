"""Where rendered objects go: stack files in, GitOps trees out (through one writer interface),
the drift gate, and the synth pipeline that ties them together."""
