"""Build kubelite's own OCI image tars (busybox and pause) with no download.

The machines kubelite runs on may have no registry at all, so the two images every node needs
are made from Debian's busybox-static: an OCI image layout (``oci-layout``, ``index.json``,
``blobs/sha256/...`` holding one gzip layer, the config and the manifest), tarred. Everything is
written deterministically (sorted entries, mtime 0, uid/gid 0, gzip without a timestamp) so
that the same inputs give byte-identical tars and therefore the same image digests on every
node.

The pause image holds a pod's namespaces. As PID 1 it must reap zombies and exit on
SIGTERM/SIGINT; a tiny static C program does exactly that when ``gcc`` and a static libc are
present. Without them the fallback is busybox ``sh`` with a trap and ``wait``, which also reaps
(the shell waits for its children) and exits 0 on TERM/INT.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "kubelite.local"
BUSYBOX_VERSION = "1.35"
PAUSE_VERSION = "3.9-kubelite"
BUSYBOX_IMAGE = f"{REGISTRY}/busybox:{BUSYBOX_VERSION}"
PAUSE_IMAGE = f"{REGISTRY}/pause:{PAUSE_VERSION}"
DEFAULT_IMAGES_DIR = Path("/var/lib/kubelite/images")
BUSYBOX_BINARY = Path("/bin/busybox")

_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Our own pause: block every signal, then sigwait; SIGCHLD reaps, TERM/INT end the pod.
_PAUSE_C = r"""
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    sigset_t set;
    int sig;
    sigfillset(&set);
    sigprocmask(SIG_BLOCK, &set, 0);
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT)
            return 0;
        if (sig == SIGCHLD)
            while (waitpid(-1, 0, WNOHANG) > 0) {
            }
    }
}
"""

_PAUSE_SH = ["/bin/sh", "-c", 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait; done']


class ImageBuildError(Exception):
    """An image could not be built (missing busybox, unwritable output directory...)."""


@dataclass(frozen=True)
class BuiltImage:
    """One image tar on disk and the names it carries."""

    path: Path
    names: tuple[str, ...]
    manifest_digest: str


@dataclass
class _Entry:
    name: str
    kind: str  # "dir", "file", "symlink"
    data: bytes = b""
    target: str = ""
    mode: int = 0o755


def _layer_tar(entries: list[_Entry]) -> bytes:
    """An uncompressed, reproducible layer tar (sorted, mtime 0, root-owned)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(entries, key=lambda e: e.name):
            info = tarfile.TarInfo(entry.name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = entry.mode
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = entry.target
                info.mode = 0o777
                tar.addfile(info)
            else:
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6, filename="") as gz:
        gz.write(data)
    return out.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _oci_tar(repo: str, tags: list[str], entries: list[_Entry], config: dict[str, object], out: Path) -> BuiltImage:
    """Write an OCI image layout tar holding one single-layer image under every tag."""
    layer = _layer_tar(entries)
    layer_gz = _gzip(layer)
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        "history": [{"created_by": "kubelite images build", "created": "1970-01-01T00:00:00Z"}],
        "created": "1970-01-01T00:00:00Z",
    }
    config_blob = _json(image_config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _digest(config_blob),
            "size": len(config_blob),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": _digest(layer_gz),
                "size": len(layer_gz),
            }
        ],
    }
    manifest_blob = _json(manifest)
    manifest_digest = _digest(manifest_blob)
    names = tuple(f"{repo}:{tag}" for tag in tags)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": len(manifest_blob),
                "platform": {"architecture": "amd64", "os": "linux"},
                # containerd's importer prefers the full name; OCI tools read the tag
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": tag,
                },
            }
            for name, tag in zip(names, tags, strict=True)
        ],
    }
    files: list[tuple[str, bytes]] = [
        ("oci-layout", _json({"imageLayoutVersion": "1.0.0"})),
        ("index.json", _json(index)),
    ]
    for blob in (layer_gz, config_blob, manifest_blob):
        files.append(("blobs/sha256/" + hashlib.sha256(blob).hexdigest(), blob))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirname in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(dirname)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for name, data in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, out)
    return BuiltImage(path=out, names=names, manifest_digest=manifest_digest)


def _base_entries(busybox: bytes, applets: list[str]) -> list[_Entry]:
    entries = [_Entry(d, "dir") for d in ("bin", "etc", "dev", "proc", "sys", "root", "var", "var/www")]
    entries.append(_Entry("tmp", "dir", mode=0o1777))
    entries.append(_Entry("bin/busybox", "file", data=busybox))
    for applet in applets:
        if applet != "busybox":
            entries.append(_Entry(f"bin/{applet}", "symlink", target="busybox"))
    entries.append(_Entry("etc/passwd", "file", data=b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", mode=0o644))
    entries.append(_Entry("etc/group", "file", data=b"root:x:0:\nnobody:x:65534:\n", mode=0o644))
    return entries


def _busybox_applets(busybox: Path) -> list[str]:
    out = subprocess.run([str(busybox), "--list"], check=True, capture_output=True, text=True).stdout
    return sorted({line.strip() for line in out.splitlines() if line.strip() and "/" not in line})


def _compile_pause(workdir: Path) -> bytes | None:
    """A static pause binary, or None when no C toolchain with a static libc is present."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    src = workdir / "pause.c"
    src.write_text(_PAUSE_C)
    binary = workdir / "pause"
    result = subprocess.run(
        [cc, "-static", "-Os", "-s", "-o", str(binary), str(src)],
        capture_output=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": "0", "LC_ALL": "C"},
    )
    if result.returncode != 0 or not binary.exists():
        return None
    return binary.read_bytes()


def build_images(out_dir: Path = DEFAULT_IMAGES_DIR, busybox: Path = BUSYBOX_BINARY) -> list[BuiltImage]:
    """Build busybox.tar and pause.tar into `out_dir`; the same inputs give identical bytes."""
    if not busybox.is_file():
        raise ImageBuildError(f"{busybox} not found: install Debian's busybox-static")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ImageBuildError(f"cannot create {out_dir}: {err.strerror}") from err
    busybox_bytes = busybox.read_bytes()
    applets = _busybox_applets(busybox)
    base = _base_entries(busybox_bytes, applets)
    built = [
        _oci_tar(
            f"{REGISTRY}/busybox",
            [BUSYBOX_VERSION, "latest"],
            base,
            {"Env": [_PATH_ENV], "Cmd": ["sh"], "WorkingDir": "/"},
            out_dir / "busybox.tar",
        )
    ]
    with tempfile.TemporaryDirectory() as tmp:
        pause = _compile_pause(Path(tmp))
    if pause is not None:
        entries = [_Entry("pause", "file", data=pause)]
        config: dict[str, object] = {"Env": [_PATH_ENV], "Entrypoint": ["/pause"], "WorkingDir": "/"}
    else:
        entries = base
        config = {"Env": [_PATH_ENV], "Entrypoint": _PAUSE_SH, "WorkingDir": "/"}
    built.append(_oci_tar(f"{REGISTRY}/pause", [PAUSE_VERSION, "latest"], entries, config, out_dir / "pause.tar"))
    return built
