"""Matching: people and their import format, profile vectors, pair scoring and hard rules, cohort
assignment, the matching service and the demo organization. Uses storage, identity and knowledge's
embedder."""
