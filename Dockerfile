# syntax=docker/dockerfile:1
# One image, both programs:
#   controller:     node dist/cmd/controller/main.js
#   broker-router:  node dist/cmd/broker-router/main.js [flags]   (the default command)
# Build: docker build -t ghcr.io/mcp-gateway/mcp-gateway:latest .

ARG NODE_IMAGE=node:24-bookworm-slim

# Compile the TypeScript. --ignore-scripts: the `node` devDependency would otherwise download a
# second Node binary; the base image's Node 24 runs the compiler.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY cmd/ cmd/
COPY internal/ internal/
RUN node node_modules/typescript/bin/tsc -p tsconfig.json

# Production dependencies only, installed from the lock file into a clean tree (no pruning of a
# tree that devDependencies shaped).
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force

# Runtime: the base image's node, package.json (for "type": "module"), production node_modules
# and the compiled cmd/ and internal/; no npm cache, sources, tests or dev tools. Non-root.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /src/package.json ./
COPY --from=deps /src/node_modules/ node_modules/
COPY --from=build /src/dist/cmd/ dist/cmd/
COPY --from=build /src/dist/internal/ dist/internal/
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node"]
CMD ["dist/cmd/broker-router/main.js"]
