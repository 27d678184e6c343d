"""Evaluation: eval suites, the runner, metrics, run storage and comparison. Drives the assistant,
retrieval and matching services it is given; no FastAPI."""
