/**
 * Type tests of the typed client: calls by name, typed from the tasks module's type alone.
 * Checked by `tsc -p .` (`npm run check`), never run.
 */
import { type AsyncResult, Celeriac, chain } from "celeriac";

const producer = new Celeriac({ name: "types-client", brokerUrl: "memory://", resultBackend: "memory://" });
// Only the module's type: nothing of ./tasks.ts is imported at run time.
const client = producer.client<typeof import("./tasks.ts")>();

type Equals<X, Y> = (<T>() => T extends X ? 1 : 2) extends (<T>() => T extends Y ? 1 : 2) ? true : false;
function expect<T extends true>(): void {}
void expect;

export async function byName(): Promise<void> {
  const r = await client.sendTask("add", [1, 2]);
  expect<Equals<typeof r, AsyncResult<number>>>();
  const g = await client.sendTask("greet", ["ann"], { countdown: 1 });
  expect<Equals<typeof g, AsyncResult<string>>>();
  const t = await client.sendTask("invoice.total", [{ id: "i", total: 1, issued: new Date() }]);
  expect<Equals<typeof t, AsyncResult<{ id: string; cents: number }>>>();
  await client.sendTask("ping");
  // @ts-expect-error an unknown task name
  await client.sendTask("no-such-task", []);
  // @ts-expect-error other exports are not tasks
  await client.sendTask("notATask", []);
  // @ts-expect-error wrong arguments
  await client.sendTask("add", [1, "2"]);
  // @ts-expect-error the arguments are required
  await client.sendTask("add");
}

export async function stubs(): Promise<void> {
  const add = client.task("add");
  const r = await add.delay(1, 2);
  expect<Equals<typeof r, AsyncResult<number>>>();
  const c = await chain(add.s(1, 2), client.task("double").s()).applyAsync();
  expect<Equals<typeof c, AsyncResult<number>>>();
  // @ts-expect-error wrong argument
  await add.delay("1", 2);
  // @ts-expect-error an unknown task
  client.task("nope");
}
