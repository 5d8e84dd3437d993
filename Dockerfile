# The obstack exporter image, as docker-compose and the Kubernetes Deployment run it:
#   docker build -t obstack-exporter:0.1.0 .
# The tag matches the spec's compose.exporter_image / kubernetes.exporter_image defaults.
# A pinned slim base: python is the exporter's only runtime (and its healthcheck's tool).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Only the package sources: tests, docs and build output stay out of the image.
COPY pyproject.toml README.md ./
COPY obstack obstack
COPY foundation foundation
COPY stack stack
COPY alerts alerts
COPY dashboards dashboards
COPY exporters exporters
COPY compose compose
RUN pip install . && rm -rf /src

# A fixed non-root uid, so Kubernetes' runAsNonRoot/runAsUser can be checked against it.
RUN groupadd --system --gid 10001 obstack \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin obstack
USER 10001:10001
WORKDIR /

EXPOSE 9477
ENTRYPOINT ["obstack"]
CMD ["exporter", "--listen", "0.0.0.0:9477"]
