"""Benchmarks: each module is a script run from the repository root as `python -m benchmarks.<name>`,
printing one JSON object on stdout (progress goes to stderr). Shared helpers are in `_common.py`; a
benchmark that starts `companion serve` uses the launcher of `tests/support/server.py`."""
