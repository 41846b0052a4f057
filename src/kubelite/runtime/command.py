"""`kubelite images`: build kubelite's own image tars and import image tars into containerd."""

from __future__ import annotations

from pathlib import Path

import click

from kubelite import aio
from kubelite.runtime.images import DEFAULT_IMAGES_DIR, ImageBuildError, build_images


@click.group()
def images() -> None:
    """Build and import container images (no registry needed)."""


@images.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_IMAGES_DIR,
    show_default=True,
    help="Directory for the image tars.",
)
def build(out_dir: Path) -> None:
    """Build the busybox and pause OCI image tars from Debian's busybox-static."""
    try:
        built = build_images(out_dir)
    except ImageBuildError as err:
        raise click.ClickException(str(err)) from err
    for image in built:
        click.echo(f"{image.path}\t{' '.join(image.names)}\t{image.manifest_digest}")


@images.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--address",
    required=True,
    type=click.Path(path_type=Path),
    help="containerd's gRPC unix socket (the agent's data dir holds containerd.sock).",
)
def import_(files: tuple[Path, ...], address: Path) -> None:
    """Import image tars (OCI or docker archive) into containerd for the CRI (namespace k8s.io)."""
    from kubelite.runtime.cri.client import import_image_tar
    from kubelite.runtime.types import RuntimeError_

    if not address.exists():
        raise click.ClickException(f"containerd socket {address} does not exist: is the agent running?")
    for tar in files:
        try:
            names = aio.run(import_image_tar(tar, address))
        except RuntimeError_ as err:
            raise click.ClickException(str(err)) from err
        for name in names:
            click.echo(f"imported {name}")
