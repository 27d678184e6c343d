# Companion: the wheel built from this checkout (prompts, eval suites and sample guides inside it),
# installed the way .ci/wheel_smoke.py tests it, on the embedded defaults.
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY companion ./companion
COPY prompts ./prompts
COPY evals ./evals
COPY knowledge ./knowledge
RUN pip wheel --no-deps --no-cache-dir -w /dist .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    ANONYMIZED_TELEMETRY=False HF_HUB_OFFLINE=1 \
    COMPANION_DATA_DIR=/data COMPANION_HOST=0.0.0.0 COMPANION_PORT=8000

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# CPU-only torch first, so the project's torch==2.13.0 pin does not pull a CUDA build
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install /tmp/dist/companion-*.whl && rm -rf /tmp/dist

VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["companion", "serve"]
