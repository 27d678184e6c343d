"""Background jobs: long work (ingest of uploads and re-ingests, people imports, eval runs, cohort matching,
scheduled eval runs) taken off the request.

This package owns the huey instance built from settings (`queue.py`: SQLite in the data dir, Redis by URL,
memory or immediate mode for tests), the job records with their progress (`service.py`, over the `jobs`
table), the task definitions that call the existing services (`tasks.py`), and the consumer that runs
them inside `companion serve` or alone in `companion worker` (`consumer.py`). Services never import huey;
the queue only carries a job's id, and the `jobs` row is the truth.
"""
