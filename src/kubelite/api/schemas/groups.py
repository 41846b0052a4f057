"""apps/v1, batch/v1, coordination.k8s.io/v1, discovery.k8s.io/v1 and events.k8s.io/v1 types."""

from __future__ import annotations

from kubelite.api.schemas.core import TOP
from kubelite.api.schemas.meta import Def

_SELECTOR = ("meta.LabelSelector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this "
             "will be the ones affected by this deployment. It must match the pod template's labels.")
_TEMPLATE = ("core.PodTemplateSpec", "Template describes the pods that will be created.")
_CONDITIONS_DOC = "Represents the latest available observations of the object's current state."

DEFS: dict[str, Def] = {
    "apps.Deployment": TOP("Deployment enables declarative updates for Pods and ReplicaSets.",
                           "apps.DeploymentSpec", "apps.DeploymentStatus"),
    "apps.DeploymentSpec": ("DeploymentSpec is the specification of the desired behavior of the Deployment.", {
        "replicas": ("integer", "Number of desired pods. This is a pointer to distinguish between explicit zero and "
                     "not specified. Defaults to 1."),
        "selector": _SELECTOR,
        "template": _TEMPLATE,
        "strategy": ("apps.DeploymentStrategy", "The deployment strategy to use to replace existing pods with new "
                     "ones."),
        "minReadySeconds": ("integer", "Minimum number of seconds for which a newly created pod should be ready "
                            "without any of its container crashing, for it to be considered available. Defaults to "
                            "0."),
        "revisionHistoryLimit": ("integer", "The number of old ReplicaSets to retain to allow rollback. Defaults to "
                                 "10."),
        "paused": ("boolean", "Indicates that the deployment is paused."),
        "progressDeadlineSeconds": ("integer", "The maximum time in seconds for a deployment to make progress "
                                    "before it is considered to be failed. Defaults to 600s."),
    }),
    "apps.DeploymentStrategy": ("DeploymentStrategy describes how to replace existing pods with new ones.", {
        "type": ("string", "Type of deployment. Can be \"Recreate\" or \"RollingUpdate\". Default is "
                 "RollingUpdate."),
        "rollingUpdate": ("apps.RollingUpdateDeployment", "Rolling update config params. Present only if "
                          "DeploymentStrategyType = RollingUpdate."),
    }),
    "apps.RollingUpdateDeployment": ("Spec to control the desired behavior of rolling update.", {
        "maxUnavailable": ("ios", "The maximum number of pods that can be unavailable during the update. Value can "
                           "be an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Defaults to "
                           "25%."),
        "maxSurge": ("ios", "The maximum number of pods that can be scheduled above the desired number of pods. "
                     "Defaults to 25%."),
    }),
    "apps.DeploymentStatus": ("DeploymentStatus is the most recently observed status of the Deployment.", {
        "observedGeneration": ("int64", "The generation observed by the deployment controller."),
        "replicas": ("integer", "Total number of non-terminated pods targeted by this deployment (their labels "
                     "match the selector)."),
        "updatedReplicas": ("integer", "Total number of non-terminated pods targeted by this deployment that have "
                            "the desired template spec."),
        "readyReplicas": ("integer", "Total number of non-terminated pods targeted by this Deployment with a Ready "
                          "Condition."),
        "availableReplicas": ("integer", "Total number of available non-terminated pods (ready for at least "
                              "minReadySeconds) targeted by this deployment."),
        "unavailableReplicas": ("integer", "Total number of unavailable pods targeted by this deployment."),
        "terminatingReplicas": ("integer", "Total number of terminating pods targeted by this deployment."),
        "conditions": ("[]apps.WorkloadCondition", _CONDITIONS_DOC, {"key": "type"}),
        "collisionCount": ("integer", "Count of hash collisions for the Deployment."),
    }),
    "apps.WorkloadCondition": ("Describes the state of a workload at a certain point.", {
        "type": ("string", "Type of condition."),
        "status": ("string", "Status of the condition, one of True, False, Unknown."),
        "lastUpdateTime": ("time", "The last time this condition was updated."),
        "lastTransitionTime": ("time", "Last time the condition transitioned from one status to another."),
        "reason": ("string", "The reason for the condition's last transition."),
        "message": ("string", "A human readable message indicating details about the transition."),
    }),
    "apps.ReplicaSet": TOP("ReplicaSet ensures that a specified number of pod replicas are running at any given "
                           "time.", "apps.ReplicaSetSpec", "apps.ReplicaSetStatus"),
    "apps.ReplicaSetSpec": ("ReplicaSetSpec is the specification of a ReplicaSet.", {
        "replicas": ("integer", "Replicas is the number of desired pods. Defaults to 1."),
        "minReadySeconds": ("integer", "Minimum number of seconds for which a newly created pod should be ready "
                            "without any of its container crashing, for it to be considered available."),
        "selector": ("meta.LabelSelector", "Selector is a label query over pods that should match the replica "
                     "count. It must match the pod template's labels."),
        "template": _TEMPLATE,
    }),
    "apps.ReplicaSetStatus": ("ReplicaSetStatus represents the current status of a ReplicaSet.", {
        "replicas": ("integer", "Replicas is the most recently observed number of non-terminating pods."),
        "fullyLabeledReplicas": ("integer", "The number of non-terminating pods that have labels matching the "
                                 "labels of the pod template of the replicaset."),
        "readyReplicas": ("integer", "The number of non-terminating pods targeted by this ReplicaSet with a Ready "
                          "Condition."),
        "availableReplicas": ("integer", "The number of available non-terminating pods (ready for at least "
                              "minReadySeconds) for this replica set."),
        "terminatingReplicas": ("integer", "The number of terminating pods for this replica set."),
        "observedGeneration": ("int64", "ObservedGeneration reflects the generation of the most recently observed "
                               "ReplicaSet."),
        "conditions": ("[]apps.WorkloadCondition", _CONDITIONS_DOC, {"key": "type"}),
    }),
    "apps.DaemonSet": TOP("DaemonSet represents the configuration of a daemon set.", "apps.DaemonSetSpec",
                          "apps.DaemonSetStatus"),
    "apps.DaemonSetSpec": ("DaemonSetSpec is the specification of a daemon set.", {
        "selector": ("meta.LabelSelector", "A label query over pods that are managed by the daemon set. It must "
                     "match the pod template's labels."),
        "template": ("core.PodTemplateSpec", "An object that describes the pod that will be created. The "
                     "DaemonSet will create exactly one copy of this pod on every node that matches the template's "
                     "node selector."),
        "updateStrategy": ("apps.DaemonSetUpdateStrategy", "An update strategy to replace existing DaemonSet pods "
                           "with new pods."),
        "minReadySeconds": ("integer", "The minimum number of seconds for which a newly created DaemonSet pod "
                            "should be ready without any of its container crashing, for it to be considered "
                            "available."),
        "revisionHistoryLimit": ("integer", "The number of old history to retain to allow rollback. Defaults to "
                                 "10."),
    }),
    "apps.DaemonSetUpdateStrategy": ("DaemonSetUpdateStrategy is a struct used to control the update strategy for "
                                     "a DaemonSet.", {
        "type": ("string", "Type of daemon set update. Can be \"RollingUpdate\" or \"OnDelete\". Default is "
                 "RollingUpdate."),
        "rollingUpdate": ("apps.RollingUpdateDaemonSet", "Rolling update config params. Present only if type = "
                          "\"RollingUpdate\"."),
    }),
    "apps.RollingUpdateDaemonSet": ("Spec to control the desired behavior of daemon set rolling update.", {
        "maxUnavailable": ("ios", "The maximum number of DaemonSet pods that can be unavailable during the update. "
                           "Default value is 1."),
        "maxSurge": ("ios", "The maximum number of nodes with an existing available DaemonSet pod that can have an "
                     "updated DaemonSet pod during during an update. Defaults to 0."),
    }),
    "apps.DaemonSetStatus": ("DaemonSetStatus represents the current status of a daemon set.", {
        "currentNumberScheduled": ("integer", "The number of nodes that are running at least 1 daemon pod and are "
                                   "supposed to run the daemon pod."),
        "numberMisscheduled": ("integer", "The number of nodes that are running the daemon pod, but are not "
                               "supposed to run the daemon pod."),
        "desiredNumberScheduled": ("integer", "The total number of nodes that should be running the daemon pod "
                                   "(including nodes correctly running the daemon pod)."),
        "numberReady": ("integer", "The number of nodes that should be running the daemon pod and have one or more "
                        "of the daemon pod running with a Ready Condition."),
        "observedGeneration": ("int64", "The most recent generation observed by the daemon set controller."),
        "updatedNumberScheduled": ("integer", "The total number of nodes that are running updated daemon pod"),
        "numberAvailable": ("integer", "The number of nodes that should be running the daemon pod and have one or "
                            "more of the daemon pod running and available"),
        "numberUnavailable": ("integer", "The number of nodes that should be running the daemon pod and have none "
                              "of the daemon pod running and available"),
        "collisionCount": ("integer", "Count of hash collisions for the DaemonSet."),
        "conditions": ("[]apps.WorkloadCondition", _CONDITIONS_DOC, {"key": "type"}),
    }),
    "apps.ControllerRevision": TOP("ControllerRevision implements an immutable snapshot of state data.", more={
        "data": ("raw", "Data is the serialized representation of the state."),
        "revision": ("int64", "Revision indicates the revision of the state represented by Data."),
    }),
    "batch.Job": TOP("Job represents the configuration of a single job.", "batch.JobSpec", "batch.JobStatus"),
    "batch.JobSpec": ("JobSpec describes how the job execution will look like.", {
        "parallelism": ("integer", "Specifies the maximum desired number of pods the job should run at any given "
                        "time."),
        "completions": ("integer", "Specifies the desired number of successfully finished pods the job should be "
                        "run with."),
        "activeDeadlineSeconds": ("int64", "Specifies the duration in seconds relative to the startTime that the "
                                  "job may be continuously active before the system tries to terminate it."),
        "podFailurePolicy": ("raw", "Specifies the policy of handling failed pods."),
        "successPolicy": ("raw", "successPolicy specifies the policy when the Job can be declared as succeeded."),
        "backoffLimit": ("integer", "Specifies the number of retries before marking this job failed. Defaults to "
                         "6."),
        "backoffLimitPerIndex": ("integer", "Specifies the limit for the number of retries within an index before "
                                 "marking this index as failed."),
        "maxFailedIndexes": ("integer", "Specifies the maximal number of failed indexes before marking the Job as "
                             "failed."),
        "selector": ("meta.LabelSelector", "A label query over pods that should match the pod count. Normally, the "
                     "system sets this field for you."),
        "manualSelector": ("boolean", "manualSelector controls generation of pod labels and pod selectors."),
        "template": ("core.PodTemplateSpec", "Describes the pod that will be created when executing a job. The only "
                     "allowed template.spec.restartPolicy values are \"Never\" or \"OnFailure\"."),
        "ttlSecondsAfterFinished": ("integer", "ttlSecondsAfterFinished limits the lifetime of a Job that has "
                                    "finished execution (either Complete or Failed)."),
        "completionMode": ("string", "completionMode specifies how Pod completions are tracked. It can be "
                           "`NonIndexed` (default) or `Indexed`."),
        "suspend": ("boolean", "suspend specifies whether the Job controller should create Pods or not."),
        "podReplacementPolicy": ("string", "podReplacementPolicy specifies when to create replacement Pods."),
        "managedBy": ("string", "ManagedBy field indicates the controller that manages a Job."),
    }),
    "batch.JobStatus": ("JobStatus represents the current state of a Job.", {
        "conditions": ("[]batch.JobCondition", "The latest available observations of an object's current state.",
                       {"strategy": "merge", "key": "type"}),
        "startTime": ("time", "Represents time when the job controller started processing a job."),
        "completionTime": ("time", "Represents time when the job was completed."),
        "active": ("integer", "The number of pending and running pods which are not terminating."),
        "succeeded": ("integer", "The number of pods which reached phase Succeeded."),
        "failed": ("integer", "The number of pods which reached phase Failed."),
        "terminating": ("integer", "The number of pods which are terminating."),
        "completedIndexes": ("string", "completedIndexes holds the completed indexes when "
                             ".spec.completionMode = \"Indexed\" in a text format."),
        "failedIndexes": ("string", "FailedIndexes holds the failed indexes when spec.backoffLimitPerIndex is set."),
        "uncountedTerminatedPods": ("raw", "uncountedTerminatedPods holds the UIDs of Pods that have terminated but "
                                    "the job controller hasn't yet accounted for in the status counters."),
        "ready": ("integer", "The number of active pods which have a Ready condition."),
    }),
    "batch.JobCondition": ("JobCondition describes current state of a job.", {
        "type": ("string", "Type of job condition, Complete or Failed."),
        "status": ("string", "Status of the condition, one of True, False, Unknown."),
        "lastProbeTime": ("time", "Last time the condition was checked."),
        "lastTransitionTime": ("time", "Last time the condition transit from one status to another."),
        "reason": ("string", "(brief) reason for the condition's last transition."),
        "message": ("string", "Human readable message indicating details about last transition."),
    }),
    "coordination.Lease": TOP("Lease defines a lease concept.", "coordination.LeaseSpec"),
    "coordination.LeaseSpec": ("LeaseSpec is a specification of a Lease.", {
        "holderIdentity": ("string", "holderIdentity contains the identity of the holder of a current lease."),
        "leaseDurationSeconds": ("integer", "leaseDurationSeconds is a duration that candidates for a lease need to "
                                 "wait to force acquire it."),
        "acquireTime": ("mtime", "acquireTime is a time when the current lease was acquired."),
        "renewTime": ("mtime", "renewTime is a time when the current holder of a lease has last updated the lease."),
        "leaseTransitions": ("integer", "leaseTransitions is the number of transitions of a lease between holders."),
        "strategy": ("string", "Strategy indicates the strategy for picking the leader for coordinated leader "
                     "election."),
        "preferredHolder": ("string", "PreferredHolder signals to a lease holder that the lease has a more optimal "
                            "holder and should be given up."),
    }),
    "discovery.EndpointSlice": TOP("EndpointSlice represents a subset of the endpoints that implement a service.",
                                   more={
        "addressType": ("string", "addressType specifies the type of address carried by this EndpointSlice: IPv4, "
                        "IPv6 or FQDN."),
        "endpoints": ("[]discovery.Endpoint", "endpoints is a list of unique endpoints in this slice."),
        "ports": ("[]discovery.EndpointPort", "ports specifies the list of network ports exposed by each endpoint "
                  "in this slice."),
    }),
    "discovery.Endpoint": ("Endpoint represents a single logical \"backend\" implementing a service.", {
        "addresses": ("[]string", "addresses of this endpoint.", {"strategy": "merge"}),
        "conditions": ("discovery.EndpointConditions", "conditions contains information about the current status "
                       "of the endpoint."),
        "hostname": ("string", "hostname of this endpoint."),
        "targetRef": ("core.ObjectReference", "targetRef is a reference to a Kubernetes object that represents this "
                      "endpoint."),
        "deprecatedTopology": ("map", "deprecatedTopology contains topology information part of the v1beta1 API."),
        "nodeName": ("string", "nodeName represents the name of the Node hosting this endpoint."),
        "zone": ("string", "zone is the name of the Zone this endpoint exists in."),
        "hints": ("raw", "hints contains information associated with how an endpoint should be consumed."),
    }),
    "discovery.EndpointConditions": ("EndpointConditions represents the current condition of an endpoint.", {
        "ready": ("boolean", "ready indicates that this endpoint is ready to receive traffic."),
        "serving": ("boolean", "serving indicates that this endpoint is able to receive traffic."),
        "terminating": ("boolean", "terminating indicates that this endpoint is terminating."),
    }),
    "discovery.EndpointPort": ("EndpointPort represents a Port used by an EndpointSlice", {
        "name": ("string", "name represents the name of this port."),
        "protocol": ("string", "protocol represents the IP protocol for this port. Must be UDP, TCP, or SCTP."),
        "port": ("integer", "port represents the port number of the endpoint."),
        "appProtocol": ("string", "The application protocol for this port."),
    }),
    "events.Event": TOP("Event is a report of an event somewhere in the cluster.", more={
        "eventTime": ("mtime", "eventTime is the time when this Event was first observed. It is required."),
        "series": ("events.EventSeries", "series is data about the Event series this event represents or nil if "
                   "it's a singleton Event."),
        "reportingController": ("string", "reportingController is the name of the controller that emitted this "
                                "Event, e.g. `kubernetes.io/kubelet`."),
        "reportingInstance": ("string", "reportingInstance is the ID of the controller instance, e.g. "
                              "`kubelet-xyzf`."),
        "action": ("string", "action is what action was taken/failed regarding to the regarding object."),
        "reason": ("string", "reason is why the action was taken. It is human-readable."),
        "regarding": ("core.ObjectReference", "regarding contains the object this Event is about."),
        "related": ("core.ObjectReference", "related is the optional secondary object for more complex actions."),
        "note": ("string", "note is a human-readable description of the status of this operation."),
        "type": ("string", "type is the type of this event (Normal, Warning), new types could be added in the "
                 "future."),
        "deprecatedSource": ("core.EventSource", "deprecatedSource is the deprecated field assuring backward "
                             "compatibility with core.v1 Event type."),
        "deprecatedFirstTimestamp": ("time", "deprecatedFirstTimestamp is the deprecated field assuring backward "
                                     "compatibility with core.v1 Event type."),
        "deprecatedLastTimestamp": ("time", "deprecatedLastTimestamp is the deprecated field assuring backward "
                                    "compatibility with core.v1 Event type."),
        "deprecatedCount": ("integer", "deprecatedCount is the deprecated field assuring backward compatibility "
                            "with core.v1 Event type."),
    }),
    "events.EventSeries": ("EventSeries contain information on series of events.", {
        "count": ("integer", "count is the number of occurrences in this series up to the last heartbeat time."),
        "lastObservedTime": ("mtime", "lastObservedTime is the time when last Event from the series was seen "
                             "before last heartbeat."),
    }),
}
