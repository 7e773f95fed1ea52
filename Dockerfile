# The Rongtong bus image: one image, the `bus` CLI as entry point; docker-compose.yml picks the
# command (adapters run, projections run, serve, demo seed).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Metadata first, so the dependency layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt
COPY bus ./bus
COPY adapters ./adapters
COPY schemas ./schemas
COPY projections ./projections
RUN pip install --no-deps . && bus --version

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    BUS_STATE_DIR=/var/lib/rongtong
RUN groupadd --system --gid 10001 bus \
 && useradd --system --uid 10001 --gid bus --create-home --home-dir /home/bus bus \
 && mkdir -p /var/lib/rongtong \
 && chown bus:bus /var/lib/rongtong
COPY --from=build /opt/venv /opt/venv
USER bus
WORKDIR /home/bus
VOLUME ["/var/lib/rongtong"]
EXPOSE 8080
ENTRYPOINT ["bus"]
CMD ["--help"]
