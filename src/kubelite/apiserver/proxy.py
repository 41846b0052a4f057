"""pods/log, exec, attach and portforward: proxied to the kubelet of the pod's node.

The apiserver never runs containers; like kube-apiserver it finds the node's kubelet endpoint
(status.addresses InternalIP + status.daemonEndpoints.kubeletEndpoint.Port), calls the
kubelet's own paths (/containerLogs, /exec, /attach, /portForward) over HTTPS, and relays the
bytes: a chunked text stream for logs, WebSocket frames in both directions for the rest (the
subprotocol the client offered, v5.channel.k8s.io or SPDY/3.1+portforward.k8s.io, is passed
through; the apiserver does not look inside the frames).

The kubelet's serving certificate is not verified (kube-apiserver's default without
--kubelet-certificate-authority); the apiserver presents its admin client certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from kubelite.api.resources import NODES, PODS
from kubelite.apiserver import errors
from kubelite.apiserver.errors import ApiError
from kubelite.apiserver.http import Answer, Reply, Request, open_stream

log = logging.getLogger(__name__)

_LOG_PARAMS = ("follow", "previous", "sinceSeconds", "sinceTime", "timestamps", "tailLines", "limitBytes")
_EXEC_PARAMS = ("command", "stdin", "stdout", "stderr", "tty")


def kubelet_base(node: dict[str, Any]) -> str:
    status = node.get("status") or {}
    name = (node.get("metadata") or {}).get("name", "")
    addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or [] if isinstance(a, dict)}
    host = addrs.get("InternalIP") or addrs.get("Hostname")
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    if not host or not port:
        raise errors.unavailable(f"no kubelet endpoint for node {name}")
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{port}"


def wire_close_code(code: int | None) -> int:
    """A close code we may send: 1005/1006 (and other reserved codes) only describe a close locally."""
    if code is None or code in (1005, 1006):
        return 1000
    if 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999:
        return code
    return 1011


class KubeletProxy:
    def __init__(self, rest: Any, client_cert: tuple[str, str] | None = None, token: str | None = None) -> None:
        self.rest = rest
        #: sent as `Authorization: Bearer` besides the client certificate, for kubelets that check tokens
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.ssl = ssl.create_default_context()
        self.ssl.check_hostname = False
        self.ssl.verify_mode = ssl.CERT_NONE
        if client_cert is not None:
            self.ssl.load_cert_chain(*client_cert)
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=10))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get_json(self, node: dict[str, Any], path: str, limit: float) -> Any:
        """GET a kubelet JSON endpoint of `node` (e.g. /stats/summary) with the proxy's credentials.

        Raises ApiError (503) when the node has no endpoint, OSError/aiohttp errors when the kubelet
        is unreachable or slow (callers that poll many nodes skip those), ValueError on a bad body.
        """
        url = kubelet_base(node) + path
        async with self.session().get(url, ssl=self.ssl, headers=self.headers,
                                      timeout=aiohttp.ClientTimeout(total=limit)) as resp:
            if resp.status != 200:
                raise OSError(f"kubelet answered {resp.status} for {path}")
            return await resp.json(content_type=None)

    async def _target(self, ns: str, name: str, container: str | None) -> tuple[str, str, dict[str, Any]]:
        pod = await self.rest.get_object(PODS, ns, name)
        spec = pod.get("spec") or {}
        names = [c.get("name", "") for c in spec.get("containers") or []]
        if not container:
            default = ((pod.get("metadata") or {}).get("annotations") or {}).get(
                "kubectl.kubernetes.io/default-container")
            if default:
                container = default
            elif len(names) == 1:
                container = names[0]
            else:
                raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                         f"[{' '.join(names)}]")
        init = [c.get("name") for c in spec.get("initContainers") or []]
        if container not in names and container not in init:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        node_name = spec.get("nodeName")
        if not node_name:
            raise errors.bad_request(f"pod {name} does not have a host assigned")
        try:
            node = await self.rest.get_object(NODES, None, node_name)
        except ApiError as e:
            raise errors.unavailable(f"no kubelet endpoint for node {node_name}: node not found") from e
        return kubelet_base(node), container, pod

    async def handle(self, request: Request, ns: str, name: str, sub: str) -> Reply:
        q = request.query
        if sub == "log":
            base, container, _ = await self._target(ns, name, q.get("container"))
            params = [(k, v) for k, v in q.items() if k in _LOG_PARAMS]
            url = f"{base}/containerLogs/{quote(ns)}/{quote(name)}/{quote(container)}"
            return await self._stream(request, url, params)
        if sub in ("exec", "attach"):
            base, container, pod = await self._target(ns, name, q.get("container"))
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                raise errors.bad_request(f"cannot exec into a container in a completed pod; current phase is "
                                         f"{phase}")
            params = [(k, v) for k, v in q.items() if k in _EXEC_PARAMS]
            path = "exec" if sub == "exec" else "attach"
            url = f"{base}/{path}/{quote(ns)}/{quote(name)}/{quote(container)}"
            return await self._websocket(request, url, params)
        if sub == "portforward":
            pod = await self.rest.get_object(PODS, ns, name)
            node_name = (pod.get("spec") or {}).get("nodeName")
            if not node_name:
                raise errors.bad_request(f"pod {name} does not have a host assigned")
            node = await self.rest.get_object(NODES, None, node_name)
            url = f"{kubelet_base(node)}/portForward/{quote(ns)}/{quote(name)}"
            return await self._websocket(request, url, [(k, v) for k, v in q.items() if k == "ports"])
        raise errors.method_not_allowed()

    async def _stream(self, request: Request, url: str, params: list[tuple[str, str]]) -> Reply:
        try:
            upstream = await self.session().get(url, params=params, ssl=self.ssl, headers=self.headers)
        except (aiohttp.ClientError, OSError) as e:
            raise errors.unavailable(f"error dialing kubelet: {e}") from e
        try:
            if upstream.status != 200:
                body = await upstream.read()
                ctype = upstream.headers.get("Content-Type", "")
                if ctype.startswith("application/json"):
                    return Answer(body, upstream.status)
                raise ApiError(upstream.status if upstream.status >= 400 else 502, "BadRequest" if
                               upstream.status == 400 else "InternalError", body.decode(errors="replace").strip())
            resp = await open_stream(request, {"Content-Type": "text/plain"})
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
            return resp
        finally:
            upstream.release()

    async def _websocket(self, request: Request, url: str, params: list[tuple[str, str]]) -> Reply:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise errors.bad_request("this server proxies exec, attach and port-forward over WebSocket only; "
                                     "SPDY upgrades are not supported")
        if request.aiohttp is None:  # (an upgrade that was not the first request of its connection)
            raise errors.bad_request("a WebSocket upgrade must be the first request on its connection")
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        try:
            upstream = await self.session().ws_connect(url.replace("https://", "wss://", 1), params=params,
                                                       ssl=self.ssl, protocols=offered, autoping=True,
                                                       headers=self.headers,
                                                       heartbeat=None, max_msg_size=0)
        except aiohttp.WSServerHandshakeError as e:
            raise ApiError(e.status if e.status >= 400 else 502, "InternalError",
                           f"kubelet refused the stream: {e.message}") from e
        except (aiohttp.ClientError, OSError) as e:
            raise errors.unavailable(f"error dialing kubelet: {e}") from e
        ws = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else (), autoping=True,
                                   max_msg_size=0)
        await ws.prepare(request.aiohttp)

        async def pump(src: Any, dst: Any) -> None:
            async for msg in src:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await dst.send_bytes(msg.data)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    await dst.send_str(msg.data)
                else:
                    break

        up = asyncio.create_task(pump(upstream, ws))
        down = asyncio.create_task(pump(ws, upstream))
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (up, down):
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            code = wire_close_code(upstream.close_code)
            with contextlib.suppress(Exception):
                await upstream.close()
            with contextlib.suppress(Exception):
                await ws.close(code=code)
        return ws
