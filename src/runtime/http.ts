/**
 * A tiny HTTP server for the worker's health and metrics endpoints and the monitor. `node:http` exists on Node and
 * Deno alike, so this is the only place that needs it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/** What a route answers. */
export interface HttpReply {
  status: number;
  body: string | Uint8Array;
  contentType?: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/**
 * A reply that stays open (server-sent events): `open` gets a writer and a signal that aborts
 * when the client goes away; the stream ends when the client leaves or the server closes.
 */
export interface HttpStreamReply {
  status: number;
  contentType: string;
  stream: true;
  open(write: (chunk: string) => void, closed: AbortSignal): void;
}

/** The request as a route sees it. */
export interface HttpRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  /** The body as text (at most `maxBodyBytes`; larger bodies are refused with 413 before routing). */
  text(): Promise<string>;
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
export type HttpGuard = (path: string, authorization: string | undefined) => HttpReply | null;

/** A route: the reply for a request. `query` and `req` carry the rest of the request. */
export type HttpRoute = (path: string, query: URLSearchParams, req: HttpRequest) => Promise<HttpReply | HttpStreamReply>;

const MAX_BODY_BYTES = 1024 * 1024;

function requestOf(req: IncomingMessage, url: URL): HttpRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(", ") : v;
  let body: Promise<string> | undefined;
  return {
    method: req.method ?? "GET",
    path: url.pathname,
    query: url.searchParams,
    headers,
    text: () =>
      body ??= new Promise<string>((resolve, reject) => {
        const chunks: Uint8Array[] = [];
        let size = 0;
        req.on("data", (c: Uint8Array) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) {
            reject(new Error(`request body over ${MAX_BODY_BYTES} bytes`));
            req.destroy();
          } else chunks.push(c);
        });
        req.on("end", () => resolve(new TextDecoder().decode(concat(chunks))));
        req.on("error", reject);
      }),
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function send(res: ServerResponse, r: HttpReply | HttpStreamReply, streams: Set<AbortController>): void {
  if ("stream" in r) {
    res.writeHead(r.status, { "content-type": r.contentType, "cache-control": "no-store", connection: "keep-alive" });
    res.flushHeaders();
    const closed = new AbortController();
    streams.add(closed);
    res.on("close", () => {
      streams.delete(closed);
      closed.abort();
    });
    r.open((chunk) => {
      if (!res.writableEnded) res.write(chunk);
    }, closed.signal);
    closed.signal.addEventListener("abort", () => res.end(), { once: true });
    return;
  }
  res.writeHead(r.status, { "content-type": r.contentType ?? "text/plain; charset=utf-8", "cache-control": "no-store", ...r.headers });
  res.end(r.body);
}

/** Serves `route` on `host:port`; resolves once listening. */
export function serveHttp(port: number, host: string, route: HttpRoute, guard?: HttpGuard): Promise<HttpServerHandle> {
  const streams = new Set<AbortController>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const refused = guard?.(url.pathname, req.headers.authorization);
    if (refused) return send(res, refused, streams);
    const contentLength = Number(req.headers["content-length"] ?? 0);
    if (contentLength > MAX_BODY_BYTES) return send(res, { status: 413, body: "request body too large\n" }, streams);
    route(url.pathname, url.searchParams, requestOf(req, url)).then((r) => send(res, r, streams), (err: Error) => {
      if (res.headersSent) return void res.end();
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
            for (const s of streams) s.abort();
            server.close(() => r());
            (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
  });
}
