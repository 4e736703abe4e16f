"""Read a console session from a page (`$ command`, then its output) and run it with bash."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@dataclass(frozen=True)
class Step:
    command: str  # as on the page, continuation lines joined by bash itself
    output: str  # what the page shows it prints


def steps(block: str) -> list[Step]:
    """The commands of a console block and the output shown after each one."""
    found: list[Step] = []
    command: list[str] = []
    output: list[str] = []
    lines = block.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("$ "):
            if command:
                found.append(Step("\n".join(command), "\n".join(output)))
            command, output = [line[2:]], []
            while command[-1].endswith("\\") or _open_quote("\n".join(command)):
                index += 1
                command.append(lines[index])
        else:
            output.append(line)
        index += 1
    if command:
        found.append(Step("\n".join(command), "\n".join(output)))
    return found


def _open_quote(text: str) -> bool:
    """True while a single-quoted argument runs on to the next line."""
    return text.count("'") % 2 == 1


def run(step: Step, port: int) -> str:
    """Run the step's command against `port` instead of the page's 8080; its output, as shown."""
    command = step.command.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"{step.command}\n{result.stderr}"
    return result.stdout.replace("\r\n", "\n").rstrip("\n")


def comparable(text: str) -> str:
    """The text with each timestamp replaced: the server's clock is the real one."""
    return TIMESTAMP.sub("<time>", text)
