"""Job controller: run pods until `completions` of them succeed, or give up after backoffLimit.

The counts come from the Job's own pods (those it controls): Succeeded and Failed pods are kept
(never deleted by the controller) so they are the record. While the Job runs, the number of
active pods is min(parallelism, completions - succeeded); with no `completions`, the first
success ends the Job once no pod is active. More failed pods than backoffLimit fails the Job
(condition Failed, reason BackoffLimitExceeded) and deletes its active pods.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kubelite.api.resources import JOBS, PODS
from kubelite.client.informer import InformerFactory
from kubelite.client.lister import index_by_owner_uid
from kubelite.client.rest import ApiError, is_not_found
from kubelite.controllers.base import Controller, Expectations, NullRecorder, OwnedPodEvents, Recorder
from kubelite.controllers.util import (
    Obj,
    WallClock,
    controller_ref,
    deep,
    deletion_rank,
    is_deleting,
    is_pod_active,
    is_pod_ready,
    key_of,
    meta,
    pod_from_template,
    pod_phase,
    rfc3339,
    set_condition,
    wall_now,
)

log = logging.getLogger("kubelite.controllers.job")

# Event reasons
SUCCESSFUL_CREATE = "SuccessfulCreate"
FAILED_CREATE = "FailedCreate"
SUCCESSFUL_DELETE = "SuccessfulDelete"
COMPLETED = "Completed"
BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"


class JobController(Controller):
    """Creates a Job's pods and records its progress and outcome in status."""

    name = "job"

    def __init__(self, client: Any, factory: InformerFactory, recorder: Recorder | None = None, *,
                 now: WallClock = wall_now) -> None:
        super().__init__()
        self.client = client                      # ApiClient: pods and job status
        self.recorder = recorder or NullRecorder()
        self.now = now
        self.expectations = Expectations()
        job_informer = factory.informer(JOBS)
        pod_informer = factory.informer(PODS)
        self.job_lister = job_informer.store      # jobs
        self.pod_lister = pod_informer.store      # pods, by owner uid
        self.pod_lister.add_index("owner-uid", index_by_owner_uid)
        job_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self._on_job_delete)
        owned_pods = OwnedPodEvents("Job", self.queue, self.expectations)
        pod_informer.add_handler(owned_pods.on_add, owned_pods.on_update, owned_pods.on_delete)

    def _on_job_delete(self, job: Obj) -> None:
        self.expectations.forget(key_of(job))

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        cached = self.job_lister.get(key)
        if cached is None:
            self.expectations.forget(key)
            return None
        job: Obj = deep(cached)
        uid = meta(job).get("uid")
        pods = [p for p in self.pod_lister.by_index("owner-uid", str(uid))
                if (controller_ref(p) or {}).get("uid") == uid]
        active = [p for p in pods if is_pod_active(p)]
        succeeded = sum(1 for p in pods if pod_phase(p) == "Succeeded")
        failed = sum(1 for p in pods if pod_phase(p) == "Failed")
        spec = job.get("spec") or {}
        status = deep(job.get("status") or {})
        conditions: list[dict[str, Any]] = status.get("conditions") or []
        now = self.now()
        finished = is_finished(job)

        if not finished and not is_deleting(job) and not spec.get("suspend"):
            status.setdefault("startTime", rfc3339(now))
            backoff_limit = int(spec.get("backoffLimit", 6) if spec.get("backoffLimit") is not None else 6)
            completions = spec.get("completions")
            if failed > backoff_limit:
                await self._delete_pods(job, active)
                active = []
                set_condition(conditions, {"type": "FailureTarget", "status": "True", "reason": BACKOFF_LIMIT_EXCEEDED,
                                           "message": "Job has reached the specified backoff limit"}, now)
                set_condition(conditions, {"type": "Failed", "status": "True", "reason": BACKOFF_LIMIT_EXCEEDED,
                                           "message": "Job has reached the specified backoff limit"}, now)
                self.recorder.event(job, "Warning", BACKOFF_LIMIT_EXCEEDED,
                                    "Job has reached the specified backoff limit")
            elif completions is not None and succeeded >= int(completions) or \
                    completions is None and succeeded > 0 and not active:
                await self._delete_pods(job, active)
                active = []
                set_condition(conditions, {"type": "SuccessCriteriaMet", "status": "True",
                                           "reason": "CompletionsReached",
                                           "message": "Reached expected number of succeeded pods"}, now)
                set_condition(conditions, {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                                           "message": "Reached expected number of succeeded pods"}, now)
                status["completionTime"] = rfc3339(now)
                self.recorder.event(job, "Normal", COMPLETED, "Job completed")
            elif self.expectations.satisfied(key):
                want = wanted_active(spec, succeeded)
                active = await self._manage(key, job, active, want)
        elif spec.get("suspend") and active and not finished:
            await self._delete_pods(job, active)
            active = []

        status["active"] = len(active)
        status["ready"] = sum(1 for p in active if is_pod_ready(p))
        status["succeeded"] = succeeded
        status["failed"] = failed
        status["terminating"] = sum(1 for p in pods if is_deleting(p))
        if conditions:
            status["conditions"] = conditions
        await self._write_status(job, status)
        return None

    async def _manage(self, key: str, job: Obj, active: list[Obj], want: int) -> list[Obj]:
        if len(active) > want:
            victims = sorted(active, key=deletion_rank)[: len(active) - want]
            self.expectations.expect_deletions(key, [key_of(p) for p in victims])
            await self._delete_pods(job, victims)
            return [p for p in active if p not in victims]
        missing = want - len(active)
        if missing <= 0:
            return active
        self.expectations.expect_creations(key, missing)
        template = (job.get("spec") or {}).get("template") or {}
        labels = {JOB_NAME_LABEL: str(meta(job).get("name")), CONTROLLER_UID_LABEL: str(meta(job).get("uid")),
                  "job-name": str(meta(job).get("name")), "controller-uid": str(meta(job).get("uid"))}
        created: list[Obj] = []
        for _ in range(missing):
            pod = pod_from_template(template, job, JOBS, extra_labels=labels)
            try:
                out = await self.client.create(PODS, pod, meta(job).get("namespace"))
            except ApiError as e:
                self.expectations.creation_failed(key, missing - len(created))
                self.recorder.event(job, "Warning", FAILED_CREATE, f"Error creating: {e}")
                raise
            created.append(out)
            self.recorder.event(job, "Normal", SUCCESSFUL_CREATE, f"Created pod: {meta(out).get('name')}")
        return active + created

    async def _delete_pods(self, job: Obj, pods: list[Obj]) -> None:
        for pod in pods:
            try:
                await self.client.delete(PODS, meta(pod)["name"], meta(pod).get("namespace"))
            except ApiError as e:
                if not is_not_found(e):
                    raise
                continue
            self.recorder.event(job, "Normal", SUCCESSFUL_DELETE, f"Deleted pod: {meta(pod)['name']}")

    async def _write_status(self, job: Obj, status: dict[str, Any]) -> None:
        if status == (job.get("status") or {}):
            return
        job["status"] = status
        try:  # a patch of status alone: the server never sees (or re-validates) the immutable template
            await self.client.patch(JOBS, str(meta(job)["name"]), {"status": status}, meta(job).get("namespace"),
                                    patch_type="merge", subresource="status")
        except ApiError as e:
            if not is_not_found(e):
                raise


def is_finished(job: Mapping[str, Any]) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


def wanted_active(spec: Mapping[str, Any], succeeded: int) -> int:
    """How many pods should be running now."""
    parallelism = spec.get("parallelism")
    parallelism = 1 if parallelism is None else int(parallelism)
    completions = spec.get("completions")
    if completions is None:
        return 0 if succeeded > 0 else parallelism
    return max(0, min(parallelism, int(completions) - succeeded))
