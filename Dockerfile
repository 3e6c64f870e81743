# celeriac worker / beat / monitor image on Node 20 (TypeScript runs through tsx, a runtime
# dependency, so `npm ci --omit=dev` installs everything the CLI needs).
#   docker build -t celeriac:0.1.0 .                                   # examples/tasks.ts as the app
#   docker build --build-arg TASKS=path/to/tasks.ts -t celeriac:0.1.0 .
# Not built in CI here (no Docker engine); its steps are the ones docs/kubernetes.md lists.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so that editing the source does not reinstall them. Install scripts are
# skipped: the native modules ship prebuilt per platform (esbuild, msgpackr-extract) and the
# only other script installs deno, a devDependency.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

COPY bin ./bin
COPY actors ./actors
COPY src ./src
# The app module (`-A /app/tasks.ts`). It may import "celeriac": the package refers to itself.
ARG TASKS=examples/tasks.ts
COPY ${TASKS} ./tasks.ts

# The `node` user of the base image (uid 1000), as the pod's securityContext expects.
USER 1000:1000
EXPOSE 8080
CMD ["node", "bin/celeriac.mjs", "worker", "-A", "/app/tasks.ts", "--health-port", "8080"]
