# syntax=docker/dockerfile:1
# The Megaphone edge. Build from the repository root:
#   docker build -f docker/edge.Dockerfile -t megaphone-edge .
# Not built on the project's own machine (no Docker engine there): test/ops/docker.test.ts checks
# what can be checked without one (files copied exist, non-root user, health check, ports).

# ---- build: every dependency, the type-check the tests run, then the runtime set only
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# An image is never made from code that does not type-check (strict, as in `npm run typecheck`).
RUN npx tsc -p tsconfig.build.json --noEmit
RUN npm prune --omit=dev --no-audit --no-fund

# ---- runtime: Node, the runtime dependencies (tsx runs the TypeScript) and src/, as `node`
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    MEGAPHONE_HOST=0.0.0.0 \
    MEGAPHONE_ADMIN_HOST=0.0.0.0
WORKDIR /app
# Owned by root and read-only to the process: a compromised edge cannot rewrite its own code.
COPY --from=build /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
USER node
# 5280: BOSH and WebSocket (public). 5281: /metrics, /healthz, /readyz (admin: publish it only
# to the monitoring network; the compose file does not publish it at all).
EXPOSE 5280 5281
# /healthz: the process is alive and its event loop turns. Node's own fetch: the slim image has
# no curl. Readiness (/readyz: link up) is for the load balancer, not for restarting.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.MEGAPHONE_ADMIN_PORT || 5281) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM starts the graceful drain (docs/operations.md); give the container longer than
# MEGAPHONE_DRAIN_TIMEOUT (10 s by default) before it is killed.
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "src/main.ts"]
