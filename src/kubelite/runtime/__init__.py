"""The container runtime: a CRI-shaped `Runtime` protocol (types), containerd over CRI (cri),
a supervised containerd child process (containerd), image tars (images) and an in-memory
simulation (sim). See docs/runtime.md.
"""
