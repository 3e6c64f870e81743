/**
 * Example tasks: `celeriac worker -A ./examples/tasks.ts -l info`
 */
import { Celeriac } from "celeriac";

export const app = new Celeriac({ name: "demo" });

export const add = app.task("add", (a: number, b: number) => a + b);

export const slowSquare = app.task(
  { name: "slowSquare", bind: true },
  async (ctx, n: number, ms: number = 100) => {
    await new Promise((r) => setTimeout(r, ms));
    ctx.log.info(`squared ${n}`);
    return n * n;
  },
);

export const flaky = app.task(
  { name: "flaky", bind: true, maxRetries: 3 },
  (ctx, failTimes: number) => {
    if (ctx.retries < failTimes) throw ctx.retry({ countdown: 0, exc: new Error(`attempt ${ctx.retries} failed`) });
    return `succeeded after ${ctx.retries} retries`;
  },
);
