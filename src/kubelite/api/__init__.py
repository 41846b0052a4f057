"""The Kubernetes API's vocabulary, as plain data and pure functions (no I/O).

Used by the apiserver (to serve it) and by every client (to speak it).
"""
