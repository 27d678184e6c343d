"""The assistant: chat model backends, prompts, the shared generation loop (validate, repair, fall back),
the prompt guard, feedback rules, and the service with its four tasks (goals, session prep, feedback,
ask). Uses knowledge (retrieval) and records; no FastAPI."""
