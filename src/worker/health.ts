/**
 * The worker's health endpoints (paths fixed in actors/contract.ts):
 * - `/livez`: 200 while the worker's supervisor runs — also during a broker outage, which a
 *   restart would not cure (the client reconnects by itself).
 * - `/readyz`: 200 when connected to the broker and every queue's consumer is bound; 503 otherwise.
 * - `/metrics`: Prometheus text format.
 */
import type { HttpReply } from "../runtime/http.ts";

/** Paths served. Kept equal to actors/contract.ts's HEALTH_PATHS (a unit test checks). */
export const HEALTH_ROUTES = { live: "/livez", ready: "/readyz", metrics: "/metrics" } as const;

/** What the endpoints read from the worker. */
export interface HealthSource {
  live(): { ok: boolean; detail: string };
  ready(): { ok: boolean; detail: string };
  metrics(): Promise<string>;
}

/** Routes a path to its answer. */
export function healthRoutes(src: HealthSource): (path: string) => Promise<HttpReply> {
  return async (path) => {
    switch (path) {
      case HEALTH_ROUTES.live: {
        const r = src.live();
        return { status: r.ok ? 200 : 503, body: `${r.ok ? "ok" : "not ok"}: ${r.detail}\n` };
      }
      case HEALTH_ROUTES.ready: {
        const r = src.ready();
        return { status: r.ok ? 200 : 503, body: `${r.ok ? "ready" : "not ready"}: ${r.detail}\n` };
      }
      case HEALTH_ROUTES.metrics:
        return { status: 200, body: await src.metrics(), contentType: "text/plain; version=0.0.4; charset=utf-8" };
      default:
        return { status: 404, body: `not found; try ${Object.values(HEALTH_ROUTES).join(", ")}\n` };
    }
  };
}
