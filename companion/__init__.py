"""Companion: a self-hostable, LLM-assisted mentoring companion."""

__version__ = "0.1.0"
