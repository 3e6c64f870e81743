/**
 * Loads the app from `-A <module>`: the module's `app` export, else its default export.
 * Without -A, a bare app configured only by flags and environment (enough to send by name).
 */
import { Celeriac } from "../src/mod.ts";
import { cwd, importModule } from "../src/internal.ts";
import { CliError, Exit } from "./exit-codes.ts";

/** Global flags every command accepts. */
export interface GlobalFlags {
  app?: string;
  broker?: string;
  resultBackend?: string;
  name?: string;
}

/** Imports the module and returns its app, configured with the global flags. */
export async function loadApp(flags: GlobalFlags, role: string, opts: { required?: boolean } = {}): Promise<Celeriac> {
  let app: Celeriac;
  if (flags.app) {
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(flags.app, cwd());
    } catch (err) {
      throw new CliError(Exit.CONFIG, `cannot load the app module ${flags.app}: ${(err as Error).message}`);
    }
    // A CommonJS module (a .ts file in a project without "type": "module") arrives with its
    // `module.exports` as the default export, its named exports not always detected.
    const cjsExports = mod.default as { app?: unknown } | undefined;
    const found = mod.app ?? cjsExports?.app ?? mod.default;
    if (!Celeriac.isApp(found)) {
      throw new CliError(Exit.CONFIG, `${flags.app} exports no Celeriac app: export it as \`app\` or as the default export`);
    }
    app = found;
  } else if (opts.required) {
    throw new CliError(Exit.USAGE, `${role} needs the app: -A ./tasks.ts (a module that exports \`app\`)`);
  } else {
    app = new Celeriac();
  }
  const overrides: Record<string, string> = {};
  if (flags.broker) overrides.brokerUrl = flags.broker;
  if (flags.resultBackend) overrides.resultBackend = flags.resultBackend;
  if (flags.name) overrides.name = flags.name;
  app.configure(overrides, { role });
  return app;
}
