"""kubelite's API server: the only door to cluster state (kube-apiserver's role).

`ApiServer(ServerConfig(...))` with start()/stop(), or `run_server(config)`; `kubelite server`
is the command line. See docs/apiserver.md.
"""

from kubelite.apiserver.server import ApiServer, PostStart, ServerConfig, run_server

__all__ = ["ApiServer", "PostStart", "ServerConfig", "run_server"]
