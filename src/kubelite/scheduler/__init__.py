"""kubelite's kube-scheduler: watches pending pods, filters and scores nodes, binds (docs/scheduler.md).

Embed it with `Scheduler(client)` + `start()`/`stop()`, `run_scheduler(client, stop_event=...)`,
or `run_from_kubeconfig(path)` (a `post_start` hook of the API server).
"""

from __future__ import annotations

from kubelite.scheduler.scheduler import Scheduler, run_from_kubeconfig, run_scheduler

__all__ = ["Scheduler", "run_from_kubeconfig", "run_scheduler"]
