"""Run the real kubectl against a kubelite server, with an isolated HOME (own discovery cache).

    kubectl = Kubectl(server.kubeconfig)
    r = kubectl("get", "pods", "-o", "wide")
    r.rc, r.stdout, r.stderr
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

KUBECTL = "/usr/bin/kubectl"


@dataclass(frozen=True, slots=True)
class Result:
    rc: int
    stdout: str
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout + self.stderr


class Kubectl:
    """A kubectl bound to one kubeconfig and one private HOME (so the discovery cache is per session)."""

    def __init__(self, kubeconfig: str | Path, home: str | Path | None = None, binary: str = KUBECTL) -> None:
        self.kubeconfig = str(kubeconfig)
        self._own_home = home is None
        self.home = Path(home) if home else Path(tempfile.mkdtemp(prefix="kubectl-home-"))
        self.binary = binary

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env.update({"HOME": str(self.home), "KUBECONFIG": self.kubeconfig, "KUBECACHEDIR": str(self.home / "cache"),
                    "NO_COLOR": "1"})
        env.update(extra or {})
        return env

    def __call__(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None,
                 timeout: float = 60) -> Result:
        proc = subprocess.run([self.binary, *args], input=stdin.encode() if stdin is not None else None,
                              capture_output=True, env=self.env(env), timeout=timeout)
        return Result(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """A long-running kubectl (get -w); the caller stops it by PID (terminate + wait)."""
        return subprocess.Popen([self.binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.env(env), start_new_session=True)

    def cleanup(self) -> None:
        if self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)
