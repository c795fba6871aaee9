# syntax=docker/dockerfile:1
# Gatehouse container image (docs/deployment.md).
#
# Build stage: installs the production dependencies from package-lock.json. They include the
# `node` npm package, whose install script fetches the exact Node.js binary the project pins
# (package.json "node": 24.x); that binary, not the build image's, runs Gatehouse at run time.
# The build image only needs an npm of the same major line to run `npm ci`.
ARG NODE_MAJOR=24
FROM node:${NODE_MAJOR}-bookworm-slim AS build
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# --omit=dev: no compiler, test tools or kubectl/helm in the image. Install scripts stay on:
# the `node` package's preinstall fetches the pinned runtime (package.json allowScripts).
RUN npm ci --omit=dev --no-audit --no-fund \
 && node_modules/node/bin/node -e 'if (process.versions.node.split(".")[0] !== "24") { console.error("pinned runtime is not Node 24: " + process.version); process.exit(1) }' \
 && npm cache clean --force \
 && mkdir -p /data
# Sources run as they are (Node type stripping): no compile step.
COPY bin ./bin
COPY src ./src

# Run stage: glibc + libstdc++ for the Node binary, no shell, no package manager.
# distroless "cc" (Debian 12) carries exactly the shared libraries the official Node.js Linux
# build links against; its nonroot user is 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="Gatehouse" \
      org.opencontainers.image.description="Security gateway, identity provider, policy engine and certificate authority in one process." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/gatehouse/gatehouse" \
      org.opencontainers.image.documentation="https://github.com/gatehouse/gatehouse/blob/main/docs/deployment.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
WORKDIR /app
COPY --from=build --chown=0:0 /app/package.json ./package.json
COPY --from=build --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/bin ./bin
COPY --from=build --chown=0:0 /app/src ./src
# Production by default: development conveniences (generated CA key, generated key-encryption
# secret, self-signed certificate, clear-text links) are refused, so a missing secret stops
# the start instead of being generated into a pod's ephemeral disk.
ENV NODE_ENV=production
# The volume for the data directory (audit spool; keys only in development). Gatehouse creates
# its dataDir 0700 and refuses one that is world-writable or another user's, so the chart
# points dataDir at /data/gatehouse inside the volume (an emptyDir is 0777); the image's
# relative default, ./gatehouse-data from WORKDIR /data, lands there too.
COPY --from=build --chown=65532:65532 /data /data
VOLUME ["/data"]
# Public HTTPS, HTTP redirect, ops (/healthz, /readyz, /metrics). No HEALTHCHECK: Kubernetes
# probes the ops port (deploy/helm/gatehouse).
EXPOSE 8443 8080 9090
# Numeric, so that runAsNonRoot can be verified without reading /etc/passwd.
USER 65532:65532
WORKDIR /data
ENTRYPOINT ["/app/node_modules/node/bin/node", "/app/src/cli/main.ts"]
CMD ["start", "--config", "/etc/gatehouse/config/gatehouse.yaml"]
