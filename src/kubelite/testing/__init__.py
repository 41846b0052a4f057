"""Helpers for tests and benchmarks that need real external components (etcd, ...)."""
