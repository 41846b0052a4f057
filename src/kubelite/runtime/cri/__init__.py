"""The CRI v1 gRPC client to containerd: the only code in kubelite that speaks to containerd."""

from kubelite.runtime.cri.client import CriRuntime, import_image_tar

__all__ = ["CriRuntime", "import_image_tar"]
