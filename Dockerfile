# celeriac worker / beat / monitor image on Node 20: the compiled CLI (dist/), no compiler.
#   docker build -t celeriac:0.1.0 .                                   # examples/tasks.ts as the app
#   docker build --build-arg TASKS=path/to/tasks.ts -t celeriac:0.1.0 .
# Not built in CI here (no Docker engine); its steps are the ones docs/kubernetes.md lists.

# Build stage: all dependencies (TypeScript among them), then `npm run build` writes dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY actors ./actors
RUN npm run build

# Run stage: runtime dependencies and dist/ only. Install scripts are skipped: the native
# modules ship prebuilt per platform (esbuild, msgpackr-extract). tsx stays, as a runtime
# dependency, for the app module: Node 20 cannot strip the types of /app/tasks.ts itself.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY bin ./bin
COPY --from=build /app/dist ./dist
# The app module (`-A /app/tasks.ts`). It may import "celeriac": the package refers to itself.
ARG TASKS=examples/tasks.ts
COPY ${TASKS} ./tasks.ts

# The `node` user of the base image (uid 1000), as the pod's securityContext expects.
USER 1000:1000
EXPOSE 8080
# bin/celeriac.mjs runs dist/ here (there is no src/ in the image).
CMD ["node", "bin/celeriac.mjs", "worker", "-A", "/app/tasks.ts", "--health-port", "8080"]
