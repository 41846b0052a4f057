"""docs/walkthrough.md stays true: run every command on a real two-node `kubelite up` and compare."""

from __future__ import annotations

import os
import shutil

import pytest

from .walkthrough import run_doc

pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]


def test_walkthrough_commands_give_the_documented_output() -> None:
    if os.geteuid() != 0:
        pytest.fail("the walkthrough needs root (containerd, network namespaces)")
    for tool in ("containerd", "runc", "/usr/bin/kubectl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed")
    problems = run_doc(write=False)
    assert not problems, "\n\n".join(problems)
