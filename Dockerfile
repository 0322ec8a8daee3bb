# The web client: typed against schema.graphql and built by Vite; only web/dist ships.
FROM node:22-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY schema.graphql /src/schema.graphql
COPY web/ ./
RUN npm run build

# Build stage: install the package and its dependencies into a venv that the
# runtime stage copies whole, so no sources or build leftovers ship.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Production by default: the server then refuses to start without a real SECRET_KEY.
ENV DEBUG=false \
    WEB_CLIENT_DIR=/app/web/dist
RUN useradd --create-home --home-dir /app --uid 10001 app
COPY --from=build /opt/venv /opt/venv
COPY --from=web /src/web/dist /app/web/dist
WORKDIR /app
USER app

EXPOSE 8000
# Sends Host: 127.0.0.1, so keep 127.0.0.1 in ALLOWED_HOSTS.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["premiumchat", "serve", "--host", "0.0.0.0", "--port", "8000"]
