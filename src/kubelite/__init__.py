"""kubelite: a Kubernetes-compatible cluster manager you can read."""

__version__ = "0.1.0"

#: The Kubernetes version kubelite speaks (what /version and the kubelet report).
KUBERNETES_VERSION = "v1.32.4"
#: gitVersion as reported by /version and nodeInfo.kubeletVersion (valid semver, k3s-style).
GIT_VERSION = f"{KUBERNETES_VERSION}+kubelite"
