"""Simulated nodes: `kubelite sim` (see fleet.py)."""
