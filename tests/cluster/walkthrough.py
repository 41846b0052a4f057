"""Run docs/walkthrough.md: every ```console block's `$ command`, compared with the output pasted under it.

    python tests/cluster/walkthrough.py --write    # run it and paste the real outputs into the doc
    pytest tests/cluster/test_walkthrough.py       # run it and check the doc still tells the truth

The doc is written for the default data dir and node names (/var/lib/kubelite, node1, node2);
a run substitutes its own (a temp dir, unique node names, free ports) in the commands and puts
the doc's back in the outputs, so runs never collide with a real cluster or with each other.

Comparison: both sides are normalized (ages, timestamps, IP addresses, ids, pod-name suffixes,
machine-dependent numbers and column padding), then every line of the doc's output must be in
the real output; for `kubectl get` the line counts must match too. Commands that only read
(`kubectl get/describe/logs/exec/wait`) are retried until they match (the cluster converges),
the others run once. `kubelite up` runs in the background until it prints its next steps.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "walkthrough.md"
DOC_DATA_DIR = "/var/lib/kubelite"
DOC_NODES = ("node1", "node2")
READ_ONLY = re.compile(r"^kubectl (get|describe|logs|exec|wait|top)\b")
RETRY_SECONDS = 90.0


@dataclass
class Step:
    command: str
    expected: list[str]


@dataclass
class Block:
    start: int          # index of the ```console line
    end: int            # index of the closing ``` line
    steps: list[Step] = field(default_factory=list)


def parse(lines: list[str]) -> list[Block]:
    """The ```console blocks of the doc, each a list of `$ command` + output."""
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        block = Block(start=i, end=i)
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            line = lines[i]
            if line.startswith("$ "):
                command = line[2:]
                heredoc = re.search(r"<<-?'?(\w+)'?", command)
                if heredoc:
                    end_word = heredoc.group(1)
                    while i + 1 < len(lines) and lines[i + 1] != end_word:
                        i += 1
                        command += "\n" + lines[i]
                    i += 1
                    command += "\n" + end_word
                block.steps.append(Step(command, []))
            elif block.steps:
                block.steps[-1].expected.append(line)
            i += 1
        block.end = i
        blocks.append(block)
        i += 1
    return blocks


_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}\b"), "<time>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?Z?\b"), "<time>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{16,}\b"), "<id>"),
    (re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(/\d+)?\b"), "<ip>"),
    # pod-name suffixes first: "myweb-1885d" would otherwise read as an age
    (re.compile(r"\b(myweb|web)-[a-z0-9]{5}\b"), r"\1-<rand>"),
    (re.compile(r"(?<![\w.])\d+(\.\d+)?(ms|s|m|h|d)(\d+(s|m|h))?\b"), "<age>"),
    (re.compile(r"\(x\d+ over <age>\)"), "<age>"),
    (re.compile(r"\(\d+%\)"), "(<pct>)"),
    (re.compile(r"\b\d+(\.\d+){2,}\S*"), "<ver>"),
    (re.compile(r"\b\d{4,}(Ki|Mi|Gi|k|M|G)?\b"), "<n>"),
    (re.compile(r":\d{4,5}\b"), ":<port>"),
    (re.compile(r"\bpid \d+\b"), "pid <n>"),
    (re.compile(r"[ \t]+"), " "),
]


def normalize(line: str) -> str:
    for pattern, repl in _PATTERNS:
        line = pattern.sub(repl, line)
    return line.strip()


class Run:
    """One run of the walkthrough in its own data dir, node names and ports."""

    def __init__(self, write: bool) -> None:
        self.write = write
        tag = uuid.uuid4().hex[:5]
        # --write uses the doc's own names (the pasted output then reads naturally)
        self.nodes = DOC_NODES if write else (f"w{tag}a", f"w{tag}b")
        self.tmp = Path(tempfile.mkdtemp(prefix="kl-walk-", dir="/tmp"))
        self.data_dir = self.tmp / "data"
        self.workdir = self.tmp / "work"
        self.workdir.mkdir()
        self.home = self.tmp / "home"
        self.home.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        self.env.update({"HOME": str(self.home), "NO_COLOR": "1",
                         "PATH": f"{ROOT / '.venv' / 'bin'}:{self.env.get('PATH', '/usr/bin:/bin')}"})
        self.up: subprocess.Popen[bytes] | None = None
        self.up_log = self.tmp / "up.out"

    # doc -> this run, and back
    def to_run(self, text: str) -> str:
        text = text.replace(DOC_DATA_DIR, str(self.data_dir))
        for doc_name, name in zip(DOC_NODES, self.nodes, strict=True):
            text = re.sub(rf"\b{doc_name}\b", name, text)
        return text

    def to_doc(self, text: str) -> str:
        text = text.replace(f"kubelite down --data-dir {self.data_dir}`", "kubelite down`")
        text = text.replace(str(self.data_dir), DOC_DATA_DIR)
        for doc_name, name in zip(DOC_NODES, self.nodes, strict=True):
            text = re.sub(rf"\b{name}\b", doc_name, text)
        return text

    def run_step(self, step: Step) -> list[str]:
        command = self.to_run(step.command)
        if command.startswith("kubelite up"):
            return self.start_up(command)
        m = re.match(r"^export (\w+)=(\S+)$", command)
        if m:
            self.env[m.group(1)] = m.group(2)
            return []
        if command.startswith("kubelite down") and "--node " not in command:
            return self.stop_up(command)
        if command.startswith("kubelite "):
            command += f" --data-dir {self.data_dir}"
        if not READ_ONLY.match(command):
            return self.shell(command)
        # read-only: retry until it matches (with --write: what the doc showed last time, briefly)
        deadline = time.monotonic() + (20.0 if self.write else RETRY_SECONDS)
        while True:
            out = self.shell(command)
            problem = mismatch(step.expected, out, command)
            if problem is None or time.monotonic() > deadline:
                return out
            time.sleep(1.0)

    def shell(self, command: str, timeout: float = 120) -> list[str]:
        proc = subprocess.run(["bash", "-c", command], cwd=self.workdir, env=self.env, capture_output=True,
                              timeout=timeout)
        out = (proc.stdout + proc.stderr).decode(errors="replace")
        return self.to_doc(out).rstrip("\n").split("\n") if out.strip() else []

    def start_up(self, command: str) -> list[str]:
        extra = f" --data-dir {self.data_dir}" + ("" if self.write else " --port 0 --kubelet-port 0")
        with open(self.up_log, "wb") as log:
            self.up = subprocess.Popen(["bash", "-c", f"exec {command}{extra}"], cwd=self.workdir, env=self.env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = self.up_log.read_text(errors="replace")
            if "kubectl get nodes" in text and "Stop it with" in text:
                return self.to_doc(text).rstrip("\n").split("\n")
            if self.up.poll() is not None:
                raise RuntimeError(f"kubelite up exited with {self.up.returncode}:\n{text}")
            time.sleep(0.2)
        raise RuntimeError(f"kubelite up did not come up in 120 s:\n{self.up_log.read_text(errors='replace')}")

    def stop_up(self, command: str) -> list[str]:
        out = self.shell(f"{command} --data-dir {self.data_dir}")
        if self.up is not None:
            self.up.wait(60)
            self.up = None
        return out

    def cleanup(self) -> None:
        """Stop `kubelite up` (by PID) if a failed run left it running, then remove the run's files."""
        if self.up is not None and self.up.poll() is None:
            os.kill(self.up.pid, signal.SIGTERM)
            try:
                self.up.wait(60)
            except subprocess.TimeoutExpired:
                os.kill(self.up.pid, signal.SIGKILL)
                self.up.wait()
        subprocess.run([str(ROOT / ".venv" / "bin" / "kubelite"), "down", "--data-dir", str(self.data_dir)],
                       capture_output=True, timeout=120)
        shutil.rmtree(self.tmp, ignore_errors=True)


def mismatch(expected: list[str], actual: list[str], command: str) -> str | None:
    """None when `actual` agrees with the doc's `expected` output, else what differs."""
    want = Counter(normalize(line) for line in expected if line.strip())
    have = Counter(normalize(line) for line in actual if line.strip())
    missing = want - have
    if missing:
        return "missing lines:\n  " + "\n  ".join(sorted(missing.elements()))
    if command.startswith("kubectl get") and sum(want.values()) != sum(have.values()):
        return f"{sum(have.values())} lines instead of {sum(want.values())}"
    return None


def run_doc(write: bool) -> list[str]:
    """Run every step; with `write`, paste the outputs into the doc. Returns the mismatches."""
    lines = DOC.read_text().split("\n")
    blocks = parse(lines)
    run = Run(write)
    problems: list[str] = []
    outputs: list[list[str]] = []
    try:
        for block in blocks:
            rendered: list[str] = []
            for step in block.steps:
                out = run.run_step(step)
                rendered += [f"$ {step.command}", *out]
                problem = mismatch(step.expected, out, run.to_run(step.command))
                if problem is not None:
                    problems.append(f"$ {step.command}\n{problem}\n--- real output:\n" + "\n".join(out))
            outputs.append(rendered)
    finally:
        run.cleanup()
    if write:
        for block, rendered in reversed(list(zip(blocks, outputs, strict=True))):
            lines[block.start + 1:block.end] = rendered
        DOC.write_text("\n".join(lines))
    return problems


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="paste the real outputs into the doc")
    args = parser.parse_args()
    found = run_doc(args.write)
    if not args.write:
        print("\n\n".join(found) or "the walkthrough matches")
        sys.exit(1 if found else 0)
