"""The controller manager: one reconciler per resource kind (see docs/controllers.md)."""

from kubelite.controllers.manager import ControllerManager

__all__ = ["ControllerManager"]
