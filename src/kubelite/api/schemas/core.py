"""core/v1 types, in the DSL described in kubelite.api.schemas.meta."""

from __future__ import annotations

from typing import Any

from kubelite.api.schemas.meta import Def

_OBJ_META = ("meta.ObjectMeta", "Standard object's metadata. More info: "
             "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


def _top(desc: str, spec: str | None = None, status: str | None = None,
         more: dict[str, tuple[Any, ...]] | None = None) -> Def:
    """A top-level kind: apiVersion, kind, metadata, then spec/status and any other fields."""
    fields: dict[str, tuple[Any, ...]] = {
        "apiVersion": ("string", "APIVersion defines the versioned schema of this representation of an object."),
        "kind": ("string", "Kind is a string value representing the REST resource this object represents."),
        "metadata": _OBJ_META,
    }
    if spec:
        fields["spec"] = (spec, "Specification of the desired behavior.")
    if status:
        fields["status"] = (status, "Most recently observed status. Populated by the system. Read-only.")
    fields.update(more or {})
    return desc, fields


TOP = _top

DEFS: dict[str, Def] = {
    "core.Pod": _top("Pod is a collection of containers that can run on a host. This resource is created by "
                     "clients and scheduled onto hosts.", "core.PodSpec", "core.PodStatus"),
    "core.PodSpec": ("PodSpec is a description of a pod.", {
        "containers": ("[]core.Container", "List of containers belonging to the pod. There must be at least one "
                       "container in a Pod. Cannot be updated.", {"key": "name"}),
        "initContainers": ("[]core.Container", "List of initialization containers belonging to the pod, run in "
                           "order before the app containers start.", {"key": "name"}),
        "ephemeralContainers": ("[]core.Container", "List of ephemeral containers run in this pod.", {"key": "name"}),
        "volumes": ("[]core.Volume", "List of volumes that can be mounted by containers belonging to the pod.",
                    {"key": "name", "strategy": "merge,retainKeys"}),
        "restartPolicy": ("string", "Restart policy for all containers within the pod. One of Always, OnFailure, "
                          "Never. Default to Always."),
        "terminationGracePeriodSeconds": ("int64", "Optional duration in seconds the pod needs to terminate "
                                          "gracefully. Defaults to 30 seconds."),
        "activeDeadlineSeconds": ("int64", "Optional duration in seconds the pod may be active on the node "
                                  "relative to StartTime before the system will actively try to mark it failed."),
        "dnsPolicy": ("string", "Set DNS policy for the pod. Defaults to \"ClusterFirst\". Valid values are "
                      "'ClusterFirstWithHostNet', 'ClusterFirst', 'Default' or 'None'."),
        "dnsConfig": ("core.PodDNSConfig", "Specifies the DNS parameters of a pod."),
        "nodeSelector": ("map", "NodeSelector is a selector which must be true for the pod to fit on a node."),
        "serviceAccountName": ("string", "ServiceAccountName is the name of the ServiceAccount to use to run this "
                               "pod."),
        "serviceAccount": ("string", "DeprecatedServiceAccount is a deprecated alias for ServiceAccountName."),
        "automountServiceAccountToken": ("boolean", "Indicates whether a service account token should be "
                                         "automatically mounted."),
        "nodeName": ("string", "NodeName indicates in which node this pod is scheduled."),
        "hostNetwork": ("boolean", "Host networking requested for this pod. Use the host's network namespace."),
        "hostPID": ("boolean", "Use the host's pid namespace."),
        "hostIPC": ("boolean", "Use the host's ipc namespace."),
        "shareProcessNamespace": ("boolean", "Share a single process namespace between all of the containers in "
                                  "a pod."),
        "securityContext": ("core.PodSecurityContext", "SecurityContext holds pod-level security attributes and "
                            "common container settings."),
        "imagePullSecrets": ("[]core.LocalObjectReference", "ImagePullSecrets is an optional list of references "
                             "to secrets in the same namespace to use for pulling any of the images.",
                             {"key": "name"}),
        "hostname": ("string", "Specifies the hostname of the Pod."),
        "subdomain": ("string", "If specified, the fully qualified Pod hostname will be "
                      "\"<hostname>.<subdomain>.<pod namespace>.svc.<cluster domain>\"."),
        "affinity": ("raw", "If specified, the pod's scheduling constraints."),
        "schedulerName": ("string", "If specified, the pod will be dispatched by specified scheduler."),
        "tolerations": ("[]core.Toleration", "If specified, the pod's tolerations."),
        "hostAliases": ("[]core.HostAlias", "HostAliases is an optional list of hosts and IPs that will be "
                        "injected into the pod's hosts file.", {"key": "ip"}),
        "priorityClassName": ("string", "If specified, indicates the pod's priority."),
        "priority": ("integer", "The priority value. Various system components use this field to find the priority "
                     "of the pod."),
        "preemptionPolicy": ("string", "PreemptionPolicy is the Policy for preempting pods with lower priority. "
                             "One of Never, PreemptLowerPriority."),
        "readinessGates": ("[]core.PodReadinessGate", "If specified, all readiness gates will be evaluated for pod "
                           "readiness."),
        "runtimeClassName": ("string", "RuntimeClassName refers to a RuntimeClass object in the node.k8s.io group."),
        "enableServiceLinks": ("boolean", "EnableServiceLinks indicates whether information about services should "
                               "be injected into pod's environment variables."),
        "overhead": ("{}quantity", "Overhead represents the resource overhead associated with running a pod."),
        "topologySpreadConstraints": ("[]raw", "TopologySpreadConstraints describes how a group of pods ought to "
                                      "spread across topology domains.", {"key": "topologyKey"}),
        "setHostnameAsFQDN": ("boolean", "If true the pod's hostname will be configured as the pod's FQDN."),
        "os": ("raw", "Specifies the OS of the containers in the pod."),
        "hostUsers": ("boolean", "Use the host's user namespace."),
        "schedulingGates": ("[]core.PodSchedulingGate", "SchedulingGates is an opaque list of values that if "
                            "specified will block scheduling the pod.", {"key": "name"}),
        "resourceClaims": ("[]raw", "ResourceClaims defines which ResourceClaims must be allocated.", {"key": "name"}),
        "resources": ("core.ResourceRequirements", "Resources is the total amount of CPU and Memory resources "
                      "required by all containers in the pod."),
    }),
    "core.PodSchedulingGate": ("PodSchedulingGate is associated to a Pod to guard its scheduling.", {
        "name": ("string", "Name of the scheduling gate."),
    }),
    "core.PodReadinessGate": ("PodReadinessGate contains the reference to a pod condition", {
        "conditionType": ("string", "ConditionType refers to a condition in the pod's condition list."),
    }),
    "core.HostAlias": ("HostAlias holds the mapping between IP and hostnames.", {
        "ip": ("string", "IP address of the host file entry."),
        "hostnames": ("[]string", "Hostnames for the above IP address."),
    }),
    "core.PodDNSConfig": ("PodDNSConfig defines the DNS parameters of a pod.", {
        "nameservers": ("[]string", "A list of DNS name server IP addresses."),
        "searches": ("[]string", "A list of DNS search domains for host-name lookup."),
        "options": ("[]raw", "A list of DNS resolver options."),
    }),
    "core.LocalObjectReference": ("LocalObjectReference contains enough information to let you locate the "
                                  "referenced object inside the same namespace.", {
        "name": ("string", "Name of the referent."),
    }),
    "core.PodSecurityContext": ("PodSecurityContext holds pod-level security attributes and common container "
                                "settings.", {
        "runAsUser": ("int64", "The UID to run the entrypoint of the container process."),
        "runAsGroup": ("int64", "The GID to run the entrypoint of the container process."),
        "runAsNonRoot": ("boolean", "Indicates that the container must run as a non-root user."),
        "fsGroup": ("int64", "A special supplemental group that applies to all containers in a pod."),
        "fsGroupChangePolicy": ("string", "fsGroupChangePolicy defines behavior of changing ownership and "
                                "permission of the volume before being exposed inside Pod."),
        "supplementalGroups": ("[]int64", "A list of groups applied to the first process run in each container."),
        "sysctls": ("[]raw", "Sysctls hold a list of namespaced sysctls used for the pod."),
        "seccompProfile": ("raw", "The seccomp options to use by the containers in this pod."),
        "seLinuxOptions": ("raw", "The SELinux context to be applied to all containers."),
        "appArmorProfile": ("raw", "appArmorProfile is the AppArmor options to use by the containers in this pod."),
    }),
    "core.SecurityContext": ("SecurityContext holds security configuration that will be applied to a container.", {
        "privileged": ("boolean", "Run container in privileged mode."),
        "runAsUser": ("int64", "The UID to run the entrypoint of the container process."),
        "runAsGroup": ("int64", "The GID to run the entrypoint of the container process."),
        "runAsNonRoot": ("boolean", "Indicates that the container must run as a non-root user."),
        "readOnlyRootFilesystem": ("boolean", "Whether this container has a read-only root filesystem."),
        "allowPrivilegeEscalation": ("boolean", "AllowPrivilegeEscalation controls whether a process can gain more "
                                     "privileges than its parent process."),
        "capabilities": ("core.Capabilities", "The capabilities to add/drop when running containers."),
        "procMount": ("string", "procMount denotes the type of proc mount to use for the containers."),
        "seccompProfile": ("raw", "The seccomp options to use by this container."),
        "seLinuxOptions": ("raw", "The SELinux context to be applied to the container."),
        "appArmorProfile": ("raw", "appArmorProfile is the AppArmor options to use by this container."),
    }),
    "core.Capabilities": ("Adds and removes POSIX capabilities from running containers.", {
        "add": ("[]string", "Added capabilities"),
        "drop": ("[]string", "Removed capabilities"),
    }),
    "core.Container": ("A single application container that you want to run within a pod.", {
        "name": ("string", "Name of the container specified as a DNS_LABEL. Each container in a pod must have a "
                 "unique name (DNS_LABEL). Cannot be updated."),
        "image": ("string", "Container image name. More info: https://kubernetes.io/docs/concepts/containers/images"),
        "imagePullPolicy": ("string", "Image pull policy. One of Always, Never, IfNotPresent. Defaults to Always if "
                            ":latest tag is specified, or IfNotPresent otherwise."),
        "command": ("[]string", "Entrypoint array. Not executed within a shell."),
        "args": ("[]string", "Arguments to the entrypoint."),
        "workingDir": ("string", "Container's working directory."),
        "ports": ("[]core.ContainerPort", "List of ports to expose from the container.",
                  {"key": "containerPort", "map_keys": ["containerPort", "protocol"]}),
        "env": ("[]core.EnvVar", "List of environment variables to set in the container. Cannot be updated.",
                {"key": "name"}),
        "envFrom": ("[]core.EnvFromSource", "List of sources to populate environment variables in the container."),
        "resources": ("core.ResourceRequirements", "Compute Resources required by this container."),
        "resizePolicy": ("[]raw", "Resources resize policy for the container."),
        "restartPolicy": ("string", "RestartPolicy defines the restart behavior of individual containers in a pod. "
                          "Only \"Always\", for init containers (sidecars)."),
        "volumeMounts": ("[]core.VolumeMount", "Pod volumes to mount into the container's filesystem.",
                         {"key": "mountPath"}),
        "volumeDevices": ("[]raw", "volumeDevices is the list of block devices to be used by the container.",
                          {"key": "devicePath"}),
        "livenessProbe": ("core.Probe", "Periodic probe of container liveness. Container will be restarted if the "
                          "probe fails."),
        "readinessProbe": ("core.Probe", "Periodic probe of container service readiness. Container will be removed "
                           "from service endpoints if the probe fails."),
        "startupProbe": ("core.Probe", "StartupProbe indicates that the Pod has successfully initialized."),
        "lifecycle": ("core.Lifecycle", "Actions that the management system should take in response to container "
                      "lifecycle events."),
        "terminationMessagePath": ("string", "Path at which the file to which the container's termination message "
                                   "will be written is mounted. Defaults to /dev/termination-log."),
        "terminationMessagePolicy": ("string", "Indicate how the termination message should be populated. File or "
                                     "FallbackToLogsOnError. Defaults to File."),
        "securityContext": ("core.SecurityContext", "SecurityContext defines the security options the container "
                            "should be run with."),
        "stdin": ("boolean", "Whether this container should allocate a buffer for stdin in the container runtime."),
        "stdinOnce": ("boolean", "Whether the container runtime should close the stdin channel after it has been "
                      "opened by a single attach."),
        "tty": ("boolean", "Whether this container should allocate a TTY for itself."),
        "targetContainerName": ("string", "For ephemeral containers: the name of the container to target."),
    }),
    "core.ContainerPort": ("ContainerPort represents a network port in a single container.", {
        "name": ("string", "If specified, this must be an IANA_SVC_NAME and unique within the pod."),
        "containerPort": ("integer", "Number of port to expose on the pod's IP address. This must be a valid port "
                          "number, 0 < x < 65536."),
        "hostPort": ("integer", "Number of port to expose on the host."),
        "hostIP": ("string", "What host IP to bind the external port to."),
        "protocol": ("string", "Protocol for port. Must be UDP, TCP, or SCTP. Defaults to \"TCP\"."),
    }),
    "core.EnvVar": ("EnvVar represents an environment variable present in a Container.", {
        "name": ("string", "Name of the environment variable. Must be a C_IDENTIFIER."),
        "value": ("string", "Variable references $(VAR_NAME) are expanded using the previously defined environment "
                  "variables in the container and any service environment variables."),
        "valueFrom": ("core.EnvVarSource", "Source for the environment variable's value. Cannot be used if value is "
                      "not empty."),
    }),
    "core.EnvVarSource": ("EnvVarSource represents a source for the value of an EnvVar.", {
        "fieldRef": ("core.ObjectFieldSelector", "Selects a field of the pod: supports metadata.name, "
                     "metadata.namespace, metadata.labels['<KEY>'], spec.nodeName, status.podIP, ..."),
        "resourceFieldRef": ("core.ResourceFieldSelector", "Selects a resource of the container."),
        "configMapKeyRef": ("core.KeySelector", "Selects a key of a ConfigMap."),
        "secretKeyRef": ("core.KeySelector", "Selects a key of a secret in the pod's namespace"),
    }),
    "core.ObjectFieldSelector": ("ObjectFieldSelector selects an APIVersioned field of an object.", {
        "apiVersion": ("string", "Version of the schema the FieldPath is written in terms of, defaults to \"v1\"."),
        "fieldPath": ("string", "Path of the field to select in the specified API version."),
    }),
    "core.ResourceFieldSelector": ("ResourceFieldSelector represents container resources (cpu, memory) and their "
                                   "output format", {
        "containerName": ("string", "Container name: required for volumes, optional for env vars"),
        "resource": ("string", "Required: resource to select"),
        "divisor": ("quantity", "Specifies the output format of the exposed resources, defaults to \"1\""),
    }),
    "core.KeySelector": ("Selects a key from a ConfigMap or Secret.", {
        "name": ("string", "Name of the referent."),
        "key": ("string", "The key to select."),
        "optional": ("boolean", "Specify whether the object or its key must be defined"),
    }),
    "core.EnvFromSource": ("EnvFromSource represents the source of a set of ConfigMaps or Secrets", {
        "prefix": ("string", "An optional identifier to prepend to each key."),
        "configMapRef": ("core.OptionalRef", "The ConfigMap to select from"),
        "secretRef": ("core.OptionalRef", "The Secret to select from"),
    }),
    "core.OptionalRef": ("A reference to a ConfigMap or Secret, which may be optional.", {
        "name": ("string", "Name of the referent."),
        "optional": ("boolean", "Specify whether the object must be defined"),
    }),
    "core.ResourceRequirements": ("ResourceRequirements describes the compute resource requirements.", {
        "limits": ("{}quantity", "Limits describes the maximum amount of compute resources allowed."),
        "requests": ("{}quantity", "Requests describes the minimum amount of compute resources required. If "
                     "Requests is omitted for a container, it defaults to Limits if that is explicitly specified."),
        "claims": ("[]raw", "Claims lists the names of resources, defined in spec.resourceClaims, that are used by "
                   "this container.", {"key": "name"}),
    }),
    "core.VolumeMount": ("VolumeMount describes a mounting of a Volume within a container.", {
        "name": ("string", "This must match the Name of a Volume."),
        "mountPath": ("string", "Path within the container at which the volume should be mounted. Must not contain "
                      "':'."),
        "subPath": ("string", "Path within the volume from which the container's volume should be mounted."),
        "subPathExpr": ("string", "Expanded path within the volume from which the container's volume should be "
                        "mounted."),
        "readOnly": ("boolean", "Mounted read-only if true, read-write otherwise (false or unspecified)."),
        "recursiveReadOnly": ("string", "RecursiveReadOnly specifies whether read-only mounts should be handled "
                              "recursively."),
        "mountPropagation": ("string", "mountPropagation determines how mounts are propagated from the host to "
                             "container and the other way around."),
    }),
    "core.Probe": ("Probe describes a health check to be performed against a container to determine whether it is "
                   "alive or ready to receive traffic.", {
        "exec": ("core.ExecAction", "Exec specifies a command to execute in the container."),
        "httpGet": ("core.HTTPGetAction", "HTTPGet specifies an HTTP GET request to perform."),
        "tcpSocket": ("core.TCPSocketAction", "TCPSocket specifies a connection to a TCP port."),
        "grpc": ("raw", "GRPC specifies a GRPC HealthCheckRequest."),
        "initialDelaySeconds": ("integer", "Number of seconds after the container has started before liveness "
                                "probes are initiated."),
        "timeoutSeconds": ("integer", "Number of seconds after which the probe times out. Defaults to 1 second."),
        "periodSeconds": ("integer", "How often (in seconds) to perform the probe. Default to 10 seconds."),
        "successThreshold": ("integer", "Minimum consecutive successes for the probe to be considered successful "
                             "after having failed. Defaults to 1."),
        "failureThreshold": ("integer", "Minimum consecutive failures for the probe to be considered failed after "
                             "having succeeded. Defaults to 3."),
        "terminationGracePeriodSeconds": ("int64", "Optional duration in seconds the pod needs to terminate "
                                          "gracefully upon probe failure."),
    }),
    "core.ExecAction": ("ExecAction describes a \"run in container\" action.", {
        "command": ("[]string", "Command is the command line to execute inside the container."),
    }),
    "core.HTTPGetAction": ("HTTPGetAction describes an action based on HTTP Get requests.", {
        "path": ("string", "Path to access on the HTTP server."),
        "port": ("ios", "Name or number of the port to access on the container."),
        "host": ("string", "Host name to connect to, defaults to the pod IP."),
        "scheme": ("string", "Scheme to use for connecting to the host. Defaults to HTTP."),
        "httpHeaders": ("[]core.HTTPHeader", "Custom headers to set in the request."),
    }),
    "core.HTTPHeader": ("HTTPHeader describes a custom header to be used in HTTP probes", {
        "name": ("string", "The header field name."),
        "value": ("string", "The header field value"),
    }),
    "core.TCPSocketAction": ("TCPSocketAction describes an action based on opening a socket", {
        "port": ("ios", "Number or name of the port to access on the container."),
        "host": ("string", "Optional: Host name to connect to, defaults to the pod IP."),
    }),
    "core.Lifecycle": ("Lifecycle describes actions that the management system should take in response to "
                       "container lifecycle events.", {
        "postStart": ("core.LifecycleHandler", "PostStart is called immediately after a container is created."),
        "preStop": ("core.LifecycleHandler", "PreStop is called immediately before a container is terminated."),
        "stopSignal": ("string", "StopSignal defines which signal will be sent to a container when it is being "
                       "stopped."),
    }),
    "core.LifecycleHandler": ("LifecycleHandler defines a specific action that should be taken in a lifecycle "
                              "hook.", {
        "exec": ("core.ExecAction", "Exec specifies a command to execute in the container."),
        "httpGet": ("core.HTTPGetAction", "HTTPGet specifies an HTTP GET request to perform."),
        "tcpSocket": ("core.TCPSocketAction", "Deprecated. TCPSocket is NOT supported as a LifecycleHandler."),
        "sleep": ("raw", "Sleep represents a duration that the container should sleep."),
    }),
    "core.Volume": ("Volume represents a named volume in a pod that may be accessed by any container in the pod.", {
        "name": ("string", "name of the volume. Must be a DNS_LABEL and unique within the pod."),
        "emptyDir": ("core.EmptyDirVolumeSource", "emptyDir represents a temporary directory that shares a pod's "
                     "lifetime."),
        "hostPath": ("core.HostPathVolumeSource", "hostPath represents a pre-existing file or directory on the host "
                     "machine that is directly exposed to the container."),
        "configMap": ("core.ConfigMapVolumeSource", "configMap represents a configMap that should populate this "
                      "volume"),
        "secret": ("core.SecretVolumeSource", "secret represents a secret that should populate this volume."),
        "persistentVolumeClaim": ("core.PersistentVolumeClaimVolumeSource", "persistentVolumeClaimVolumeSource "
                                  "represents a reference to a PersistentVolumeClaim in the same namespace."),
        "downwardAPI": ("core.DownwardAPIVolumeSource", "downwardAPI represents downward API about the pod that "
                        "should populate this volume"),
        "projected": ("raw", "projected items for all in one resources secrets, configmaps, and downward API"),
        "nfs": ("raw", "nfs represents an NFS mount on the host that shares a pod's lifetime"),
        "csi": ("raw", "csi represents ephemeral storage that is handled by certain external CSI drivers."),
        "ephemeral": ("raw", "ephemeral represents a volume that is handled by a cluster storage driver."),
        "image": ("raw", "image represents an OCI object (a container image or artifact) pulled and mounted on the "
                  "kubelet's host machine."),
        "iscsi": ("raw", "iscsi represents an ISCSI Disk resource that is attached to a kubelet's host machine and "
                  "then exposed to the pod."),
        "local": ("raw", "Local volume source."),
    }),
    "core.EmptyDirVolumeSource": ("Represents an empty directory for a pod.", {
        "medium": ("string", "medium represents what type of storage medium should back this directory."),
        "sizeLimit": ("quantity", "sizeLimit is the total amount of local storage required for this EmptyDir "
                      "volume."),
    }),
    "core.HostPathVolumeSource": ("Represents a host path mapped into a pod.", {
        "path": ("string", "path of the directory on the host."),
        "type": ("string", "type for HostPath Volume. Defaults to \"\"."),
    }),
    "core.ConfigMapVolumeSource": ("Adapts a ConfigMap into a volume.", {
        "name": ("string", "Name of the referent."),
        "items": ("[]core.KeyToPath", "items if unspecified, each key-value pair in the Data field of the "
                  "referenced ConfigMap will be projected into the volume as a file."),
        "defaultMode": ("integer", "defaultMode is optional: mode bits used to set permissions on created files by "
                        "default. Defaults to 0644."),
        "optional": ("boolean", "optional specify whether the ConfigMap or its keys must be defined"),
    }),
    "core.SecretVolumeSource": ("Adapts a Secret into a volume.", {
        "secretName": ("string", "secretName is the name of the secret in the pod's namespace to use."),
        "items": ("[]core.KeyToPath", "items If unspecified, each key-value pair in the Data field of the "
                  "referenced Secret will be projected into the volume as a file."),
        "defaultMode": ("integer", "defaultMode is Optional: mode bits used to set permissions on created files by "
                        "default. Defaults to 0644."),
        "optional": ("boolean", "optional field specify whether the Secret or its keys must be defined"),
    }),
    "core.KeyToPath": ("Maps a string key to a path within a volume.", {
        "key": ("string", "key is the key to project."),
        "path": ("string", "path is the relative path of the file to map the key to."),
        "mode": ("integer", "mode is Optional: mode bits used to set permissions on this file."),
    }),
    "core.PersistentVolumeClaimVolumeSource": ("References the user's PVC in the same namespace.", {
        "claimName": ("string", "claimName is the name of a PersistentVolumeClaim in the same namespace as the pod "
                      "using this volume."),
        "readOnly": ("boolean", "readOnly Will force the ReadOnly setting in VolumeMounts."),
    }),
    "core.DownwardAPIVolumeSource": ("DownwardAPIVolumeSource represents a volume containing downward API info.", {
        "items": ("[]core.DownwardAPIVolumeFile", "Items is a list of downward API volume file"),
        "defaultMode": ("integer", "Optional: mode bits to use on created files by default."),
    }),
    "core.DownwardAPIVolumeFile": ("DownwardAPIVolumeFile represents information to create the file containing the "
                                   "pod field", {
        "path": ("string", "Required: Path is the relative path name of the file to be created."),
        "fieldRef": ("core.ObjectFieldSelector", "Required: Selects a field of the pod."),
        "resourceFieldRef": ("core.ResourceFieldSelector", "Selects a resource of the container."),
        "mode": ("integer", "Optional: mode bits used to set permissions on this file."),
    }),
    "core.Toleration": ("The pod this Toleration is attached to tolerates any taint that matches the triple "
                        "<key,value,effect> using the matching operator <operator>.", {
        "key": ("string", "Key is the taint key that the toleration applies to. Empty means match all taint keys."),
        "operator": ("string", "Operator represents a key's relationship to the value. Valid operators are Exists "
                     "and Equal. Defaults to Equal."),
        "value": ("string", "Value is the taint value the toleration matches to."),
        "effect": ("string", "Effect indicates the taint effect to match. Empty means match all taint effects."),
        "tolerationSeconds": ("int64", "TolerationSeconds represents the period of time the toleration (which must "
                              "be of effect NoExecute) tolerates the taint."),
    }),
    "core.PodStatus": ("PodStatus represents information about the status of a pod.", {
        "phase": ("string", "The phase of a Pod is a simple, high-level summary of where the Pod is in its "
                  "lifecycle: Pending, Running, Succeeded, Failed or Unknown."),
        "conditions": ("[]core.PodCondition", "Current service state of pod.", {"key": "type"}),
        "message": ("string", "A human readable message indicating details about why the pod is in this "
                    "condition."),
        "reason": ("string", "A brief CamelCase message indicating details about why the pod is in this state."),
        "nominatedNodeName": ("string", "nominatedNodeName is set only when this pod preempts other pods on the "
                              "node."),
        "hostIP": ("string", "hostIP holds the IP address of the host to which the pod is assigned."),
        "hostIPs": ("[]core.PodIP", "hostIPs holds the IP addresses allocated to the host.", {"key": "ip"}),
        "podIP": ("string", "podIP address allocated to the pod. Routable at least within the cluster."),
        "podIPs": ("[]core.PodIP", "podIPs holds the IP addresses allocated to the pod.", {"key": "ip"}),
        "startTime": ("time", "RFC 3339 date and time at which the object was acknowledged by the Kubelet."),
        "initContainerStatuses": ("[]core.ContainerStatus", "Statuses of init containers in this pod."),
        "containerStatuses": ("[]core.ContainerStatus", "Statuses of containers in this pod."),
        "ephemeralContainerStatuses": ("[]core.ContainerStatus", "Statuses for any ephemeral containers."),
        "qosClass": ("string", "The Quality of Service (QOS) classification assigned to the pod based on resource "
                     "requirements: Guaranteed, Burstable or BestEffort."),
        "observedGeneration": ("int64", "If set, this represents the .metadata.generation that the pod status was "
                               "set based upon."),
        "resize": ("string", "Status of resources resize desired for pod's containers."),
        "resourceClaimStatuses": ("[]raw", "Status of resource claims."),
    }),
    "core.PodIP": ("PodIP represents a single IP address allocated to the pod.", {
        "ip": ("string", "IP is the IP address assigned to the pod"),
    }),
    "core.PodCondition": ("PodCondition contains details for the current condition of this pod.", {
        "type": ("string", "Type is the type of the condition."),
        "status": ("string", "Status is the status of the condition. Can be True, False, Unknown."),
        "observedGeneration": ("int64", "If set, this represents the .metadata.generation that the pod condition "
                               "was set based upon."),
        "lastProbeTime": ("time", "Last time we probed the condition."),
        "lastTransitionTime": ("time", "Last time the condition transitioned from one status to another."),
        "reason": ("string", "Unique, one-word, CamelCase reason for the condition's last transition."),
        "message": ("string", "Human-readable message indicating details about last transition."),
    }),
    "core.ContainerStatus": ("ContainerStatus contains details for the current status of this container.", {
        "name": ("string", "Name is a DNS_LABEL representing the unique name of the container."),
        "state": ("core.ContainerState", "State holds details about the container's current condition."),
        "lastState": ("core.ContainerState", "LastTerminationState holds the last termination state of the "
                      "container."),
        "ready": ("boolean", "Ready specifies whether the container is currently passing its readiness check."),
        "restartCount": ("integer", "RestartCount holds the number of times the container has been restarted."),
        "image": ("string", "Image is the name of container image that the container is running."),
        "imageID": ("string", "ImageID is the image ID of the container's image."),
        "containerID": ("string", "ContainerID is the ID of the container in the format '<type>://<container_id>'."),
        "started": ("boolean", "Started indicates whether the container has finished its postStart lifecycle hook "
                    "and passed its startup probe."),
        "allocatedResources": ("{}quantity", "AllocatedResources represents the compute resources allocated for "
                               "this container by the node."),
        "resources": ("core.ResourceRequirements", "Resources represents the compute resource requests and limits "
                      "that have been successfully enacted on the running container."),
        "volumeMounts": ("[]raw", "Status of volume mounts.", {"key": "mountPath"}),
        "user": ("raw", "User represents user identity information initially attached to the first process of the "
                 "container"),
        "allocatedResourcesStatus": ("[]raw", "AllocatedResourcesStatus represents the status of various resources "
                                     "allocated for this Pod.", {"key": "name"}),
        "stopSignal": ("string", "StopSignal reports the effective stop signal for this container"),
    }),
    "core.ContainerState": ("ContainerState holds a possible state of container. Only one of its members may be "
                            "specified.", {
        "waiting": ("core.ContainerStateWaiting", "Details about a waiting container"),
        "running": ("core.ContainerStateRunning", "Details about a running container"),
        "terminated": ("core.ContainerStateTerminated", "Details about a terminated container"),
    }),
    "core.ContainerStateWaiting": ("ContainerStateWaiting is a waiting state of a container.", {
        "reason": ("string", "(brief) reason the container is not yet running."),
        "message": ("string", "Message regarding why the container is not yet running."),
    }),
    "core.ContainerStateRunning": ("ContainerStateRunning is a running state of a container.", {
        "startedAt": ("time", "Time at which the container was last (re-)started"),
    }),
    "core.ContainerStateTerminated": ("ContainerStateTerminated is a terminated state of a container.", {
        "exitCode": ("integer", "Exit status from the last termination of the container"),
        "signal": ("integer", "Signal from the last termination of the container"),
        "reason": ("string", "(brief) reason from the last termination of the container"),
        "message": ("string", "Message regarding the last termination of the container"),
        "startedAt": ("time", "Time at which previous execution of the container started"),
        "finishedAt": ("time", "Time at which the container last terminated"),
        "containerID": ("string", "Container's ID in the format '<type>://<container_id>'"),
    }),
    "core.PodTemplateSpec": ("PodTemplateSpec describes the data a pod should have when created from a template", {
        "metadata": _OBJ_META,
        "spec": ("core.PodSpec", "Specification of the desired behavior of the pod."),
    }),
    "core.PodTemplate": TOP("PodTemplate describes a template for creating copies of a predefined pod.",
                            more={"template": ("core.PodTemplateSpec", "Template defines the pods that will be created "
                                                     "from this pod template.")}),
    "core.Binding": TOP("Binding ties one object to another; for example, a pod is bound to a node by a scheduler.",
                        more={"target": ("core.ObjectReference", "The target object that you want to bind to the "
                                                   "standard object.")}),
    "core.ObjectReference": ("ObjectReference contains enough information to let you inspect or modify the "
                             "referred object.", {
        "kind": ("string", "Kind of the referent."),
        "namespace": ("string", "Namespace of the referent."),
        "name": ("string", "Name of the referent."),
        "uid": ("string", "UID of the referent."),
        "apiVersion": ("string", "API version of the referent."),
        "resourceVersion": ("string", "Specific resourceVersion to which this reference is made, if any."),
        "fieldPath": ("string", "If referring to a piece of an object instead of an entire object, this string "
                      "should contain a valid JSON/Go field access statement."),
    }),
    "core.ReplicationController": TOP("ReplicationController represents the configuration of a replication "
                                      "controller.", "core.ReplicationControllerSpec",
                                      "core.ReplicationControllerStatus"),
    "core.ReplicationControllerSpec": ("ReplicationControllerSpec is the specification of a replication "
                                       "controller.", {
        "replicas": ("integer", "Replicas is the number of desired replicas. Defaults to 1."),
        "minReadySeconds": ("integer", "Minimum number of seconds for which a newly created pod should be ready "
                            "without any of its container crashing, for it to be considered available."),
        "selector": ("map", "Selector is a label query over pods that should match the Replicas count."),
        "template": ("core.PodTemplateSpec", "Template is the object that describes the pod that will be created "
                     "if insufficient replicas are detected."),
    }),
    "core.ReplicationControllerStatus": ("ReplicationControllerStatus represents the current status of a "
                                         "replication controller.", {
        "replicas": ("integer", "Replicas is the most recently observed number of replicas."),
        "fullyLabeledReplicas": ("integer", "The number of pods that have labels matching the labels of the pod "
                                 "template of the replication controller."),
        "readyReplicas": ("integer", "The number of ready replicas for this replication controller."),
        "availableReplicas": ("integer", "The number of available replicas (ready for at least minReadySeconds)."),
        "observedGeneration": ("int64", "ObservedGeneration reflects the generation of the most recently observed "
                               "replication controller."),
        "conditions": ("[]raw", "Represents the latest available observations of a replication controller's "
                       "current state.", {"key": "type"}),
    }),
    "core.Service": TOP("Service is a named abstraction of software service (for example, mysql) consisting of "
                        "local port (for example 3306) that the proxy listens on, and the selector that determines "
                        "which pods will answer requests sent through the proxy.", "core.ServiceSpec",
                        "core.ServiceStatus"),
    "core.ServiceSpec": ("ServiceSpec describes the attributes that a user creates on a service.", {
        "ports": ("[]core.ServicePort", "The list of ports that are exposed by this service.",
                  {"key": "port", "map_keys": ["port", "protocol"]}),
        "selector": ("map", "Route service traffic to pods with label keys and values matching this selector."),
        "clusterIP": ("string", "clusterIP is the IP address of the service and is usually assigned randomly."),
        "clusterIPs": ("[]string", "ClusterIPs is a list of IP addresses assigned to this service."),
        "type": ("string", "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are "
                 "ExternalName, ClusterIP, NodePort, and LoadBalancer."),
        "externalIPs": ("[]string", "externalIPs is a list of IP addresses for which nodes in the cluster will "
                        "also accept traffic for this service."),
        "sessionAffinity": ("string", "Supports \"ClientIP\" and \"None\". Used to maintain session affinity."),
        "loadBalancerIP": ("string", "Only applies to Service Type: LoadBalancer. Deprecated."),
        "loadBalancerSourceRanges": ("[]string", "If specified and supported by the platform, traffic through the "
                                     "cloud-provider load-balancer will be restricted to the specified client IPs."),
        "externalName": ("string", "externalName is the external reference that discovery mechanisms will return "
                         "as an alias for this service (e.g. a DNS CNAME record)."),
        "externalTrafficPolicy": ("string", "externalTrafficPolicy describes how nodes distribute service traffic "
                                  "they receive on one of the Service's \"externally-facing\" addresses."),
        "healthCheckNodePort": ("integer", "healthCheckNodePort specifies the healthcheck nodePort for the "
                                "service."),
        "publishNotReadyAddresses": ("boolean", "publishNotReadyAddresses indicates that any agent which deals with "
                                     "endpoints for this Service should disregard any indications of ready/not-ready."),
        "sessionAffinityConfig": ("raw", "sessionAffinityConfig contains the configurations of session affinity."),
        "ipFamilies": ("[]string", "IPFamilies is a list of IP families (e.g. IPv4, IPv6) assigned to this service."),
        "ipFamilyPolicy": ("string", "IPFamilyPolicy represents the dual-stack-ness requested or required by this "
                           "Service."),
        "allocateLoadBalancerNodePorts": ("boolean", "allocateLoadBalancerNodePorts defines if NodePorts will be "
                                          "automatically allocated for services with type LoadBalancer."),
        "loadBalancerClass": ("string", "loadBalancerClass is the class of the load balancer implementation this "
                              "Service belongs to."),
        "internalTrafficPolicy": ("string", "InternalTrafficPolicy describes how nodes distribute service traffic "
                                  "they receive on the ClusterIP."),
        "trafficDistribution": ("string", "TrafficDistribution offers a way to express preferences for how traffic "
                                "is distributed to Service endpoints."),
    }),
    "core.ServicePort": ("ServicePort contains information on service's port.", {
        "name": ("string", "The name of this port within the service. This must be a DNS_LABEL."),
        "protocol": ("string", "The IP protocol for this port. Supports \"TCP\", \"UDP\", and \"SCTP\". Default is "
                     "TCP."),
        "appProtocol": ("string", "The application protocol for this port."),
        "port": ("integer", "The port that will be exposed by this service."),
        "targetPort": ("ios", "Number or name of the port to access on the pods targeted by the service. Defaults "
                       "to the value of the 'port' field."),
        "nodePort": ("integer", "The port on each node on which this service is exposed when type is NodePort or "
                     "LoadBalancer."),
    }),
    "core.ServiceStatus": ("ServiceStatus represents the current status of a service.", {
        "loadBalancer": ("core.LoadBalancerStatus", "LoadBalancer contains the current status of the "
                         "load-balancer, if one is present."),
        "conditions": ("[]meta.Condition", "Current service state", {"key": "type"}),
    }),
    "core.LoadBalancerStatus": ("LoadBalancerStatus represents the status of a load-balancer.", {
        "ingress": ("[]core.LoadBalancerIngress", "Ingress is a list containing ingress points for the "
                    "load-balancer."),
    }),
    "core.LoadBalancerIngress": ("LoadBalancerIngress represents the status of a load-balancer ingress point.", {
        "ip": ("string", "IP is set for load-balancer ingress points that are IP based"),
        "hostname": ("string", "Hostname is set for load-balancer ingress points that are DNS based"),
        "ipMode": ("string", "IPMode specifies how the load-balancer IP behaves."),
        "ports": ("[]raw", "Ports is a list of records of service ports"),
    }),
    "core.Endpoints": TOP("Endpoints is a collection of endpoints that implement the actual service.",
                          more={"subsets": ("[]core.EndpointSubset", "The set of all endpoints is the union of all "
                                                      "subsets.")}),
    "core.EndpointSubset": ("EndpointSubset is a group of addresses with a common set of ports.", {
        "addresses": ("[]core.EndpointAddress", "IP addresses which offer the related ports that are marked as "
                      "ready."),
        "notReadyAddresses": ("[]core.EndpointAddress", "IP addresses which offer the related ports but are not "
                              "currently marked as ready."),
        "ports": ("[]core.EndpointPort", "Port numbers available on the related IP addresses."),
    }),
    "core.EndpointAddress": ("EndpointAddress is a tuple that describes single IP address.", {
        "ip": ("string", "The IP of this endpoint."),
        "hostname": ("string", "The Hostname of this endpoint"),
        "nodeName": ("string", "Optional: Node hosting this endpoint."),
        "targetRef": ("core.ObjectReference", "Reference to object providing the endpoint."),
    }),
    "core.EndpointPort": ("EndpointPort is a tuple that describes a single port.", {
        "name": ("string", "The name of this port."),
        "port": ("integer", "The port number of the endpoint."),
        "protocol": ("string", "The IP protocol for this port. Must be UDP, TCP, or SCTP. Default is TCP."),
        "appProtocol": ("string", "The application protocol for this port."),
    }),
    "core.Namespace": TOP("Namespace provides a scope for Names. Use of multiple namespaces is optional.",
                          "core.NamespaceSpec", "core.NamespaceStatus"),
    "core.NamespaceSpec": ("NamespaceSpec describes the attributes on a Namespace.", {
        "finalizers": ("[]string", "Finalizers is an opaque list of values that must be empty to permanently remove "
                       "object from storage."),
    }),
    "core.NamespaceStatus": ("NamespaceStatus is information about the current status of a Namespace.", {
        "phase": ("string", "Phase is the current lifecycle phase of the namespace: Active or Terminating."),
        "conditions": ("[]raw", "Represents the latest available observations of a namespace's current state.",
                       {"key": "type"}),
    }),
    "core.Node": TOP("Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache "
                     "(i.e. in etcd).", "core.NodeSpec", "core.NodeStatus"),
    "core.NodeSpec": ("NodeSpec describes the attributes that a node is created with.", {
        "podCIDR": ("string", "PodCIDR represents the pod IP range assigned to the node."),
        "podCIDRs": ("[]string", "podCIDRs represents the IP ranges assigned to the node for usage by Pods on that "
                     "node.", {"strategy": "merge"}),
        "providerID": ("string", "ID of the node assigned by the cloud provider."),
        "unschedulable": ("boolean", "Unschedulable controls node schedulability of new pods. By default, node is "
                          "schedulable."),
        "taints": ("[]core.Taint", "If specified, the node's taints."),
        "configSource": ("raw", "Deprecated: Previously used to specify the source of the node's configuration."),
        "externalID": ("string", "Deprecated. Not all kubelets will set this field."),
    }),
    "core.Taint": ("The node this Taint is attached to has the \"effect\" on any pod that does not tolerate the "
                   "Taint.", {
        "key": ("string", "Required. The taint key to be applied to a node."),
        "value": ("string", "The taint value corresponding to the taint key."),
        "effect": ("string", "Required. The effect of the taint on pods that do not tolerate the taint. Valid "
                   "effects are NoSchedule, PreferNoSchedule and NoExecute."),
        "timeAdded": ("time", "TimeAdded represents the time at which the taint was added."),
    }),
    "core.NodeStatus": ("NodeStatus is information about the current status of a node.", {
        "capacity": ("{}quantity", "Capacity represents the total resources of a node."),
        "allocatable": ("{}quantity", "Allocatable represents the resources of a node that are available for "
                        "scheduling. Defaults to Capacity."),
        "phase": ("string", "NodePhase is the recently observed lifecycle phase of the node. Deprecated."),
        "conditions": ("[]core.NodeCondition", "Conditions is an array of current observed node conditions.",
                       {"key": "type"}),
        "addresses": ("[]core.NodeAddress", "List of addresses reachable to the node.", {"key": "type"}),
        "daemonEndpoints": ("raw", "Endpoints of daemons running on the Node."),
        "nodeInfo": ("core.NodeSystemInfo", "Set of ids/uuids to uniquely identify the node."),
        "images": ("[]raw", "List of container images on this node"),
        "volumesInUse": ("[]string", "List of attachable volumes in use (mounted) by the node."),
        "volumesAttached": ("[]raw", "List of volumes that are attached to the node."),
        "config": ("raw", "Status of the config assigned to the node via the dynamic Kubelet config feature."),
        "runtimeHandlers": ("[]raw", "The available runtime handlers."),
        "features": ("raw", "Features describes the set of features implemented by the CRI implementation."),
    }),
    "core.NodeCondition": ("NodeCondition contains condition information for a node.", {
        "type": ("string", "Type of node condition."),
        "status": ("string", "Status of the condition, one of True, False, Unknown."),
        "lastHeartbeatTime": ("time", "Last time we got an update on a given condition."),
        "lastTransitionTime": ("time", "Last time the condition transit from one status to another."),
        "reason": ("string", "(brief) reason for the condition's last transition."),
        "message": ("string", "Human readable message indicating details about last transition."),
    }),
    "core.NodeAddress": ("NodeAddress contains information for the node's address.", {
        "type": ("string", "Node address type, one of Hostname, ExternalIP or InternalIP."),
        "address": ("string", "The node address."),
    }),
    "core.NodeSystemInfo": ("NodeSystemInfo is a set of ids/uuids to uniquely identify the node.", {
        "machineID": ("string", "MachineID reported by the node."),
        "systemUUID": ("string", "SystemUUID reported by the node."),
        "bootID": ("string", "Boot ID reported by the node."),
        "kernelVersion": ("string", "Kernel Version reported by the node from 'uname -r'."),
        "osImage": ("string", "OS Image reported by the node from /etc/os-release."),
        "containerRuntimeVersion": ("string", "ContainerRuntime Version reported by the node through runtime remote "
                                    "API (e.g. containerd://1.4.2)."),
        "kubeletVersion": ("string", "Kubelet Version reported by the node."),
        "kubeProxyVersion": ("string", "Deprecated: KubeProxy Version reported by the node."),
        "operatingSystem": ("string", "The Operating System reported by the node"),
        "architecture": ("string", "The Architecture reported by the node"),
        "swap": ("raw", "Swap Info reported by the node."),
    }),
    "core.Event": TOP("Event is a report of an event somewhere in the cluster.", more={
        "involvedObject": ("core.ObjectReference", "The object that this event is about."),
        "reason": ("string", "This should be a short, machine understandable string that gives the reason for the "
                   "transition into the object's current status."),
        "message": ("string", "A human-readable description of the status of this operation."),
        "source": ("core.EventSource", "The component reporting this event."),
        "firstTimestamp": ("time", "The time at which the event was first recorded."),
        "lastTimestamp": ("time", "The time at which the most recent occurrence of this event was recorded."),
        "count": ("integer", "The number of times this event has occurred."),
        "type": ("string", "Type of this event (Normal, Warning), new types could be added in the future"),
        "eventTime": ("mtime", "Time when this Event was first observed."),
        "series": ("core.EventSeries", "Data about the Event series this event represents or nil if it's a "
                   "singleton Event."),
        "action": ("string", "What action was taken/failed regarding to the Regarding object."),
        "related": ("core.ObjectReference", "Optional secondary object for more complex actions."),
        "reportingComponent": ("string", "Name of the controller that emitted this Event."),
        "reportingInstance": ("string", "ID of the controller instance, e.g. `kubelet-xyzf`."),
    }),
    "core.EventSource": ("EventSource contains information for an event.", {
        "component": ("string", "Component from which the event is generated."),
        "host": ("string", "Node name on which the event is generated."),
    }),
    "core.EventSeries": ("EventSeries contain information on series of events.", {
        "count": ("integer", "Number of occurrences in this series up to the last heartbeat time"),
        "lastObservedTime": ("mtime", "Time of the last occurrence observed"),
    }),
    "core.ConfigMap": TOP("ConfigMap holds configuration data for pods to consume.", more={
        "data": ("map", "Data contains the configuration data. Each key must consist of alphanumeric characters, "
                 "'-', '_' or '.'."),
        "binaryData": ("{}byte", "BinaryData contains the binary data."),
        "immutable": ("boolean", "Immutable, if set to true, ensures that data stored in the ConfigMap cannot be "
                      "updated (only object metadata can be modified)."),
    }),
    "core.Secret": TOP("Secret holds secret data of a certain type. The total bytes of the values in the Data field "
                       "must be less than MaxSecretSize bytes.", more={
        "data": ("{}byte", "Data contains the secret data. The serialized form of the secret data is a base64 "
                 "encoded string."),
        "stringData": ("map", "stringData allows specifying non-binary secret data in string form. It is provided "
                       "as a write-only input field for convenience."),
        "type": ("string", "Used to facilitate programmatic handling of secret data."),
        "immutable": ("boolean", "Immutable, if set to true, ensures that data stored in the Secret cannot be "
                      "updated (only object metadata can be modified)."),
    }),
    "core.ServiceAccount": TOP("ServiceAccount binds together: a name, understood by users, and perhaps by "
                               "peripheral systems, for an identity; a principal that can be authenticated and "
                               "authorized; a set of secrets", more={
        "secrets": ("[]core.ObjectReference", "Secrets is a list of the secrets in the same namespace that pods "
                    "running using this ServiceAccount are allowed to use.", {"key": "name"}),
        "imagePullSecrets": ("[]core.LocalObjectReference", "ImagePullSecrets is a list of references to secrets in "
                             "the same namespace to use for pulling any images in pods that reference this "
                             "ServiceAccount."),
        "automountServiceAccountToken": ("boolean", "AutomountServiceAccountToken indicates whether pods running as "
                                         "this service account should have an API token automatically mounted."),
    }),
}
