"""kubelite's own image tars: OCI layout, deterministic bytes, the `kubelite images build` CLI."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

from kubelite.runtime.images import BUSYBOX_IMAGE, PAUSE_IMAGE, BuiltImage, build_images


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_building_twice_gives_identical_tars(built_images: list[BuiltImage], tmp_path: Path) -> None:
    again = build_images(tmp_path)
    for first, second in zip(built_images, again, strict=True):
        assert first.path.name == second.path.name
        assert first.path.read_bytes() == second.path.read_bytes()
        assert first.manifest_digest == second.manifest_digest


def test_tar_is_an_oci_layout_with_named_tags(built_images: list[BuiltImage]) -> None:
    busybox = next(i for i in built_images if i.path.name == "busybox.tar")
    files = _members(busybox.path)
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    refs = {m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]}
    names = {m["annotations"]["io.containerd.image.name"] for m in index["manifests"]}
    assert refs == {"1.35", "latest"}
    assert BUSYBOX_IMAGE in names
    # every blob is stored under its own digest
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    manifest = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    layer_gz = files["blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]]
    layer = gzip.decompress(layer_gz)
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        names_in_layer = {m.name: m for m in tar.getmembers()}
    assert names_in_layer["bin/busybox"].isfile()
    assert names_in_layer["bin/sh"].issym() and names_in_layer["bin/httpd"].issym()


def test_pause_image_is_named_and_small(built_images: list[BuiltImage]) -> None:
    pause = next(i for i in built_images if i.path.name == "pause.tar")
    assert PAUSE_IMAGE in pause.names
    assert pause.path.stat().st_size < 2_000_000


def test_cli_builds_images(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kubelite", "images", "build", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert BUSYBOX_IMAGE in result.stdout and PAUSE_IMAGE in result.stdout
    assert (tmp_path / "busybox.tar").is_file() and (tmp_path / "pause.tar").is_file()


def test_cli_import_without_containerd_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kubelite", "images", "import", str(tmp_path / "x.tar"), "--address", str(tmp_path / "no.sock")],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
