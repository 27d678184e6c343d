"""The `companion` command line: one module per area (assistant, matching, eval, db, backup, audit), each
registering its commands on the app in `main.py`. Commands parse options, call one service from the
container and print; they hold no logic of their own."""

from companion.cli.main import main

__all__ = ["main"]
