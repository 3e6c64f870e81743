/**
 * A tiny HTTP server for the worker's health and metrics endpoints and the monitor. `node:http` exists on Node and
 * Deno alike, so this is the only place that needs it.
 */
import { createServer, type Server } from "node:http";

/** What a route answers. */
export interface HttpReply {
  status: number;
  body: string;
  contentType?: string;
}

/** A running server. */
export interface HttpServerHandle {
  /** The port it listens on (useful when asked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Decides before routing whether a request may go on: null lets it through, a reply refuses it
 * (401 with its `headers`, say). Gets the path and the `Authorization` header.
 */
export type HttpGuard = (path: string, authorization: string | undefined) => (HttpReply & { headers?: Record<string, string> }) | null;

/** Serves GET requests on `host:port` with `route(path, query)`; resolves once listening. */
export function serveHttp(
  port: number,
  host: string,
  route: (path: string, query: URLSearchParams) => Promise<HttpReply>,
  guard?: HttpGuard,
): Promise<HttpServerHandle> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const refused = guard?.(url.pathname, req.headers.authorization);
    if (refused) {
      res.writeHead(refused.status, { "content-type": refused.contentType ?? "text/plain; charset=utf-8", ...refused.headers });
      res.end(refused.body);
      return;
    }
    route(url.pathname, url.searchParams).then((r) => {
      res.writeHead(r.status, { "content-type": r.contentType ?? "text/plain; charset=utf-8", "cache-control": "no-store" });
      res.end(r.body);
    }, (err: Error) => {
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      res.end(`error: ${err.message}\n`);
    });
  });
  // Probes must not keep sockets (and the process) alive after shutdown.
  server.keepAliveTimeout = 1_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const addr = server.address();
      resolve({
        port: typeof addr === "object" && addr ? addr.port : port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
  });
}
