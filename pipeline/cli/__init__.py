"""The `riskwatch` command: sub-commands that parse, call one engine function, and report."""

from pipeline.cli.commands import main

__all__ = ["main"]
