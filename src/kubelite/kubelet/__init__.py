"""The kubelet: registers its node, heartbeats, and runs the pods bound to it."""
