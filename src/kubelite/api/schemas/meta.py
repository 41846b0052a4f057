"""metav1 and shared core types: ObjectMeta, ListMeta, LabelSelector, OwnerReference, ...

DSL (read by kubelite.api.schema): a definition is (description, {field: (type, description[, extras])}).
Types: string, integer, int64, boolean, number, byte, map (string to string), quantity, ios
(int-or-string), time, mtime (microtime), raw (free-form object), []T (list), {}T (map of T), or
a definition name such as core.PodSpec. Extras: key=<merge key> (a merge list), strategy=<patch strategy>.
"""

from __future__ import annotations

from typing import Any

Def = tuple[str, dict[str, tuple[Any, ...]]]

DEFS: dict[str, Def] = {
    "meta.ObjectMeta": (
        "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
        {
            "name": ("string", "Name must be unique within a namespace. Is required when creating resources, although "
                     "some resources may allow a client to request the generation of an appropriate name "
                     "automatically. Cannot be updated."),
            "generateName": ("string", "GenerateName is an optional prefix, used by the server, to generate a unique "
                             "name ONLY IF the Name field has not been provided."),
            "namespace": ("string", "Namespace defines the space within which each name must be unique. Cannot be "
                          "updated."),
            "uid": ("string", "UID is the unique in time and space value for this object. Populated by the system. "
                    "Read-only."),
            "resourceVersion": ("string", "An opaque value that represents the internal version of this object, used "
                                "for optimistic concurrency. Populated by the system. Read-only."),
            "generation": ("int64", "A sequence number representing a specific generation of the desired state. "
                           "Populated by the system. Read-only."),
            "creationTimestamp": ("time", "CreationTimestamp is a timestamp representing the server time when this "
                                  "object was created. Populated by the system. Read-only."),
            "deletionTimestamp": ("time", "DeletionTimestamp is RFC 3339 date and time at which this resource will be "
                                  "deleted. Set by the server when a graceful deletion is requested."),
            "deletionGracePeriodSeconds": ("int64", "Number of seconds allowed for this object to gracefully "
                                           "terminate before it will be removed from the system."),
            "labels": ("map", "Map of string keys and values that can be used to organize and categorize (scope and "
                       "select) objects."),
            "annotations": ("map", "Annotations is an unstructured key value map stored with a resource that may be "
                            "set by external tools to store and retrieve arbitrary metadata."),
            "ownerReferences": ("[]meta.OwnerReference", "List of objects depended by this object.",
                                {"key": "uid"}),
            "finalizers": ("[]string", "Must be empty before the object is deleted from the registry.",
                           {"strategy": "merge"}),
            "managedFields": ("[]meta.ManagedFieldsEntry", "ManagedFields maps workflow-id and version to the set "
                              "of fields that are managed by that workflow."),
        },
    ),
    "meta.ListMeta": (
        "ListMeta describes metadata that synthetic resources must have, including lists.",
        {
            "resourceVersion": ("string", "String that identifies the server's internal version of this object."),
            "continue": ("string", "continue may be set if the user set a limit on the number of items returned."),
            "remainingItemCount": ("int64", "The number of subsequent items in the list which are not included."),
            "selfLink": ("string", "Deprecated: selfLink is a legacy read-only field."),
        },
    ),
    "meta.OwnerReference": (
        "OwnerReference contains enough information to let you identify an owning object.",
        {
            "apiVersion": ("string", "API version of the referent."),
            "kind": ("string", "Kind of the referent."),
            "name": ("string", "Name of the referent."),
            "uid": ("string", "UID of the referent."),
            "controller": ("boolean", "If true, this reference points to the managing controller."),
            "blockOwnerDeletion": ("boolean", "If true, AND if the owner has the \"foregroundDeletion\" finalizer, "
                                   "then the owner cannot be deleted from the key-value store until this reference "
                                   "is removed."),
        },
    ),
    "meta.ManagedFieldsEntry": (
        "ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset "
        "applies to.",
        {
            "manager": ("string", "Manager is an identifier of the workflow managing these fields."),
            "operation": ("string", "Operation is the type of operation which lead to this ManagedFieldsEntry being "
                          "created."),
            "apiVersion": ("string", "APIVersion defines the version of this resource that this field set applies "
                           "to."),
            "time": ("time", "Time is the timestamp of when the ManagedFields entry was added."),
            "fieldsType": ("string", "FieldsType is the discriminator for the different fields format and version."),
            "fieldsV1": ("raw", "FieldsV1 holds the first JSON version format."),
            "subresource": ("string", "Subresource is the name of the subresource used to update that object."),
        },
    ),
    "meta.LabelSelector": (
        "A label selector is a label query over a set of resources. An empty label selector matches all objects. "
        "A null label selector matches no objects.",
        {
            "matchLabels": ("map", "matchLabels is a map of {key,value} pairs."),
            "matchExpressions": ("[]meta.LabelSelectorRequirement", "matchExpressions is a list of label selector "
                                 "requirements. The requirements are ANDed."),
        },
    ),
    "meta.LabelSelectorRequirement": (
        "A label selector requirement is a selector that contains values, a key, and an operator that relates the "
        "key and values.",
        {
            "key": ("string", "key is the label key that the selector applies to."),
            "operator": ("string", "operator represents a key's relationship to a set of values. Valid operators "
                         "are In, NotIn, Exists and DoesNotExist."),
            "values": ("[]string", "values is an array of string values."),
        },
    ),
    "meta.Condition": (
        "Condition contains details for one aspect of the current state of this API Resource.",
        {
            "type": ("string", "type of condition in CamelCase or in foo.example.com/CamelCase."),
            "status": ("string", "status of the condition, one of True, False, Unknown."),
            "observedGeneration": ("int64", "observedGeneration represents the .metadata.generation that the "
                                   "condition was set based upon."),
            "lastTransitionTime": ("time", "lastTransitionTime is the last time the condition transitioned from one "
                                   "status to another."),
            "reason": ("string", "reason contains a programmatic identifier indicating the reason for the "
                       "condition's last transition."),
            "message": ("string", "message is a human readable message indicating details about the transition."),
        },
    ),
}
