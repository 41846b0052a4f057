"""API errors as Kubernetes `Status` objects: one exception type, one constructor per reason.

kubectl renders errors from `reason`, `code` and `details` (422 builds `The Pod "x" is
invalid: ...` from details.kind/name/causes), so these must match the real apiserver.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.resources import Resource


class ApiError(Exception):
    """An error the client gets back as a Status body with this HTTP code."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(res: Resource | None, name: str | None) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name is not None:
        d["name"] = name
    if res is not None:
        if res.group:
            d["group"] = res.group
        d["kind"] = res.plural
    return d


def _qual(res: Resource) -> str:
    return res.group_resource


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_qual(res)} "{name}" not found', _details(res, name))


def namespace_not_found(ns: str) -> ApiError:
    return ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})


def already_exists(res: Resource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_qual(res)} "{name}" already exists', _details(res, name))


def conflict(res: Resource, name: str, why: str = "the object has been modified; please apply your "
             "changes to the latest version and try again") -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {_qual(res)} "{name}": {why}',
                    _details(res, name))


def invalid(res: Resource, name: str, causes: list[dict[str, str]]) -> ApiError:
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details: dict[str, Any] = {"name": name, "kind": res.kind, "causes": causes}
    if res.group:
        details["group"] = res.group
    return ApiError(422, "Invalid", f'{res.kind} "{name}" is invalid: {summary}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(res: Resource | None, name: str, why: str) -> ApiError:
    target = f'{_qual(res)} "{name}"' if res else name
    return ApiError(403, "Forbidden", f"{target} is forbidden: {why}", _details(res, name))


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format ({content_type or 'none'}) - accepted "
                    "media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf")


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_large(limit: int) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")


def unavailable(message: str) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message)


def route_not_found(path: str) -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource",
                    {"causes": [{"reason": "UnexpectedServerResponse", "message": f"404 page not found: {path}"}]})
