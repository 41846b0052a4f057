"""Start a real `kubelite server` subprocess for tests and benchmarks, stop it by PID.

    with KubeliteServer() as srv:          # temp data dir, free port, SQLite
        srv.kubeconfig, srv.token, srv.url, srv.ca_cert
        srv.request("GET", "/api/v1/namespaces")   # tiny synchronous HTTPS client

The server's stdout/stderr go to <data_dir>/server.log (read it with `log()` when a test fails).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class KubeliteServer:
    """One `kubelite server` child process with its own data directory and port.

    The embedded scheduler and controller manager are OFF unless asked for (`control_plane=True`,
    or `scheduler=True` / `controllers=True`): most tests start their own, as separate processes,
    and two schedulers would race for the same pods. Durations take Go syntax ("3s", "40s").
    """

    def __init__(self, data_dir: str | Path | None = None, datastore: str | None = None,
                 token: str | None = None, port: int | None = None, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None, *, control_plane: bool = False,
                 scheduler: bool | None = None, controllers: bool | None = None,
                 node_monitor_grace_period: str | None = None, pod_eviction_timeout: str | None = None,
                 lease_duration: str | None = None) -> None:
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="kubelite-server-"))
        self.datastore = datastore
        self.token_arg = token
        self.port = port or free_port()
        self.extra_args = extra_args or []
        self.env = env or {}
        self.scheduler = control_plane if scheduler is None else scheduler
        self.controllers = control_plane if controllers is None else controllers
        self.control_plane_args: list[str] = []
        if not self.scheduler:
            self.control_plane_args.append("--disable-scheduler")
        if not self.controllers:
            self.control_plane_args.append("--disable-controllers")
        for flag, value in (("--node-monitor-grace-period", node_monitor_grace_period),
                            ("--pod-eviction-timeout", pod_eviction_timeout),
                            ("--leader-elect-lease-duration", lease_duration)):
            if value is not None:
                self.control_plane_args += [flag, value]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def kill(self) -> None:
        """SIGKILL (a crash, for fail-over tests); the process is reaped."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig.yaml"

    @property
    def local_kubeconfig(self) -> Path:
        """For components on this host (the scheduler, controllers): the server's unix socket."""
        return self.data_dir / "kubeconfig-local.yaml"

    @property
    def ca_cert(self) -> Path:
        return self.data_dir / "tls" / "ca.crt"

    @property
    def admin_cert(self) -> tuple[Path, Path]:
        return self.data_dir / "tls" / "admin.crt", self.data_dir / "tls" / "admin.key"

    @property
    def token(self) -> str:
        return (self.data_dir / "token").read_text().strip()

    def log(self) -> str:
        try:
            return (self.data_dir / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def start(self, timeout: float = 30.0) -> KubeliteServer:
        args = [sys.executable, "-m", "kubelite", "server", "--data-dir", str(self.data_dir),
                "--port", str(self.port), *self.control_plane_args, *self.extra_args]
        if self.datastore:
            args += ["--datastore", self.datastore]
        if self.token_arg:
            args += ["--token", self.token_arg]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        logf = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT,
                                         env={**os.environ, **self.env}, start_new_session=True)
        finally:
            logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kubelite server exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            if self.kubeconfig.exists() and self.ca_cert.exists():
                try:
                    status, _ = self.request("GET", "/readyz", auth=False, timeout=2)
                    if status == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"kubelite server not ready within {timeout}s:\n{self.log()[-4000:]}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; the process is always reaped."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            proc.wait()

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert))

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                headers: dict[str, str] | None = None, auth: bool = True,
                timeout: float = 30) -> tuple[int, Any]:
        """A synchronous HTTPS call; returns (status, parsed JSON or raw bytes)."""
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(), timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def __enter__(self) -> KubeliteServer:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.cleanup()
