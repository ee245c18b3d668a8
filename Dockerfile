# The upload service (and the anonymizer command) in a small image, as a non-root user.
#   docker build -t upload-anonymizer .
#   docker run --rm -p 8000:8000 -v anonymizer-data:/data upload-anonymizer
#   docker run --rm -v anonymizer-data:/data upload-anonymizer keys create --tenant demo --scopes upload,read
#   docker run --rm -v "$PWD:/work" upload-anonymizer anonymize /work/in /work/out --profile basic --key-file /work/deid.key
# Installs the versions pinned in requirements/lock.txt, as scripts/bootstrap does.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src

# Layer 1: the runtime dependencies only, read from pyproject.toml and pinned by the lock.
# It is rebuilt only when one of these two files changes, not on every source edit.
COPY pyproject.toml ./
COPY requirements/lock.txt requirements/lock.txt
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['service']))" \
        > /tmp/runtime.txt \
    && pip install --no-cache-dir -c requirements/lock.txt -r /tmp/runtime.txt \
    && rm /tmp/runtime.txt

# Layer 2: the project itself (a regular, not editable, install); the source is removed.
COPY README.md LICENSE ./
COPY anonymizer ./anonymizer
COPY app ./app
COPY profiles ./profiles
RUN pip install --no-cache-dir -c requirements/lock.txt ".[service]" \
    && cd / && rm -rf /src \
    && useradd --system --create-home --uid 10001 --user-group anonymizer \
    && mkdir /data && chown anonymizer:anonymizer /data

USER 10001:10001
WORKDIR /data
ENV ANONYMIZER_DATA_DIR=/data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"

ENTRYPOINT ["anonymizer"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
