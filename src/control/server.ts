/**
 * The worker's side of remote control: an actor that listens on `<p>.control.broadcast` and
 * `<p>.control.<worker>`, runs each command through `handle`, and replies. A failing command
 * answers `{ error }`; nothing a caller sends can break the worker.
 */
import type { Broker } from "../broker/types.ts";
import type { Names } from "../names.ts";
import type { ActorBody } from "../actor.ts";
import { type ControlRequest, decodeControl, encodeControl } from "./protocol.ts";

/** What the control actor needs. */
export interface ControlServerDeps {
  broker: Broker;
  names: Names;
  hostname: string;
  /** Runs one command; its value is the reply. */
  handle(command: string, args: Record<string, unknown>): unknown | Promise<unknown>;
  report(err: Error): void;
}

/** Builds the control actor's body. */
export function controlActor(deps: ControlServerDeps): ActorBody {
  return async (signal) => {
    const onRequest = (data: Uint8Array) => {
      const req = decodeControl<ControlRequest>(data);
      if (!req || typeof req.command !== "string") return;
      if (Array.isArray(req.destination) && !req.destination.includes(deps.hostname)) return;
      void (async () => {
        let reply: unknown;
        try {
          reply = await deps.handle(req.command, typeof req.arguments === "object" && req.arguments ? req.arguments : {});
        } catch (err) {
          reply = { error: (err as Error).message ?? String(err) };
        }
        if (typeof req.reply_to === "string" && req.reply_to) {
          deps.broker.notify(req.reply_to, encodeControl({ hostname: deps.hostname, ticket: String(req.ticket), reply }));
        }
      })().catch((err) => deps.report(err as Error));
    };
    const offs = [
      deps.broker.subscribe(deps.names.controlBroadcast, onRequest),
      deps.broker.subscribe(deps.names.controlSubject(deps.hostname), onRequest),
    ];
    try {
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    } finally {
      for (const off of offs) off();
    }
  };
}
