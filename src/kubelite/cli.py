"""The one `kubelite` entry point.

Each component owns its own click command in its own package; this module only gathers them,
lazily, so that `kubelite --help` stays fast and one component's import cost is paid only by
the command that needs it.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

from kubelite import GIT_VERSION, __version__

# command name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "server": "kubelite.apiserver.command:server",
    "scheduler": "kubelite.scheduler.command:scheduler",
    "controller-manager": "kubelite.controllers.command:controller_manager",
    "agent": "kubelite.kubelet.command:agent",
    "images": "kubelite.runtime.command:images",
    "sim": "kubelite.sim.command:sim",
    "up": "kubelite.cluster.command:up",
    "down": "kubelite.cluster.command:down",
}


def _command_available(target: str) -> bool:
    module = target.split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package does not exist (yet)
        return False


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, target in COMMANDS.items() if _command_available(target))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None or not _command_available(target):
            return None
        module_name, attr = target.split(":", 1)
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=LazyGroup)
@click.version_option(__version__, message=f"kubelite %(version)s (Kubernetes {GIT_VERSION})")
def main() -> None:
    """kubelite: a Kubernetes-compatible cluster manager in Python.

    The real kubectl drives it; its nodes run real containers through containerd and runc.
    """
