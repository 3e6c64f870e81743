/**
 * A tiny HTTP server for the worker's health and metrics endpoints. `node:http` exists on Node and
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

/** Serves GET requests on `host:port` with `route(path, query)`; resolves once listening. */
export function serveHttp(
  port: number,
  host: string,
  route: (path: string, query: URLSearchParams) => Promise<HttpReply>,
): Promise<HttpServerHandle> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
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
