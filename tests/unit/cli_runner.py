"""Run the `orders` command in process, as the CLI tests do."""

from __future__ import annotations

import io
import sys

from order_service.entrypoints.cli import main


def run(*argv: object, stdin: str | None = None) -> tuple[int, str, str]:
    """`orders *argv` with `stdin` as standard input; returns (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        original, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        status = main([str(a) for a in argv], out, err)
    finally:
        if stdin is not None:
            sys.stdin = original
    return status, out.getvalue(), err.getvalue()
