/**
 * Security options in three steps, like every other option: the user's objects ({@link NatsAuth},
 * {@link TlsFiles}, {@link BackendOptions}, {@link SigningOptions}, every field documented) →
 * environment overrides (`CELERIAC_NATS_*`, `CELERIAC_REDIS_*`, `CELERIAC_SIGNING_*`) → compiled
 * descriptions the adapters read. Compiling is pure: it checks shapes and inline values (a seed
 * that does not decode, a key that is too short, two credentials at once) and names the field.
 * Files are read later, when the adapter connects or the app first signs, and an unreadable file
 * fails there, naming its field too (`load.ts`).
 *
 * An environment group replaces the code's group as a whole (a token in the code and a password in
 * the environment would otherwise be "two credentials at once"): the environment wins, as for URLs.
 */
import { ConfigError } from "../errors.ts";
import { decodePublicKey, decodeSeed, NkeyFormatError } from "./nkey.ts";
import type { RedisHaOptions } from "../backend/redis-options.ts";

/** Paths of PEM files for TLS. Without any, TLS (when the URL asks for it) trusts the system's CAs. */
export interface TlsFiles {
  /** CA certificate(s) that signed the server's certificate. @default the system's CAs */
  ca?: string;
  /** Client certificate, for servers that verify clients (mutual TLS); needs `key`. @default none */
  cert?: string;
  /** The client certificate's private key; needs `cert`. @default none */
  key?: string;
}

/**
 * How the app authenticates to NATS: exactly one of user and password, a token, an nkey seed (inline
 * or in a file), or a `.creds` file (JWT + seed, from `nsc`). Credentials in the URL
 * (`nats://user:pass@host`, `nats://token@host`) work too, but not together with these.
 */
export type NatsAuth =
  | {
    /** User name (`authorization { users = [ { user, password } ] }`). Env `CELERIAC_NATS_USER`. */
    user: string;
    /** Its password. Env `CELERIAC_NATS_PASSWORD`. */
    pass: string;
  }
  | {
    /** The server's token (`authorization { token }`). Env `CELERIAC_NATS_TOKEN`. */
    token: string;
  }
  | {
    /** A user nkey seed (`SU…`) the server knows by its public key. Env `CELERIAC_NATS_NKEY_SEED`. */
    nkeySeed: string;
  }
  | {
    /** A file holding the nkey seed; read again at every reconnect. Env `CELERIAC_NATS_NKEY_SEED_FILE`. */
    nkeySeedFile: string;
  }
  | {
    /** A `.creds` file (user JWT + seed, operator mode); read again at every reconnect. Env `CELERIAC_NATS_CREDS`. */
    credsFile: string;
  };

/** Result backend (Redis) connection security. */
export interface BackendOptions extends RedisHaOptions {
  /** ACL user name (Redis 6+); or put it in the URL: `redis://user:pass@host`. Env `CELERIAC_REDIS_USER`. @default none */
  username?: string;
  /** Password (`requirepass` or the ACL user's). Env `CELERIAC_REDIS_PASSWORD`. @default none */
  password?: string;
  /** TLS files; TLS itself is asked for with a `rediss://` URL. Env `CELERIAC_REDIS_TLS_CA`, `_CERT`, `_KEY`. @default none */
  tls?: TlsFiles;
}

/**
 * Message signing (opt-in; see docs/security.md). A producer signs with ONE key: an HMAC key shared
 * with the workers, or its own Ed25519 nkey seed. A worker checks signatures with the HMAC key(s) and
 * the public keys it trusts; with `require` it dead-letters what is unsigned, signed by a key it does
 * not know, or changed after signing. A worker also signs what it publishes (retries, canvas
 * follow-ups) with its own key, and trusts its own public key.
 */
export interface SigningOptions {
  /** Shared HMAC-SHA256 key, at least 32 characters (e.g. `openssl rand -base64 32`). Env `CELERIAC_SIGNING_KEY`. @default none */
  hmacKey?: string;
  /** File holding the HMAC key (surrounding whitespace ignored). Env `CELERIAC_SIGNING_KEY_FILE`. @default none */
  hmacKeyFile?: string;
  /** Older HMAC keys still accepted when checking, during a key rotation. Env `CELERIAC_SIGNING_PREVIOUS_KEYS` (comma-separated). @default [] */
  hmacPreviousKeys?: string[];
  /** This process's Ed25519 nkey seed (`SU…`), to sign with. Env `CELERIAC_SIGNING_SEED`. @default none */
  ed25519Seed?: string;
  /** File holding the Ed25519 nkey seed. Env `CELERIAC_SIGNING_SEED_FILE`. @default none */
  ed25519SeedFile?: string;
  /** Public nkeys (`U…`) whose signatures workers accept. Env `CELERIAC_SIGNING_TRUSTED_KEYS` (comma-separated). @default [] */
  trustedKeys?: string[];
  /** Workers dead-letter unsigned messages and those signed by unknown keys. Env `CELERIAC_SIGNING_REQUIRE`. @default false */
  require?: boolean;
}

/** Signing defaults, defined once: off, nothing trusted, nothing required. */
export const SIGNING_DEFAULTS = { hmacPreviousKeys: [] as string[], trustedKeys: [] as string[], require: false } as const;

/** A secret given inline or as a file, with the name of where it came from (for errors). */
export interface SecretSource {
  value?: string;
  file?: string;
  field: string;
}

/** TLS files, checked for shape; `field` names where they came from. */
export interface CompiledTls {
  ca?: string;
  cert?: string;
  key?: string;
  field: string;
}

/** NATS credentials, checked for shape. */
export type CompiledNatsAuth =
  | { kind: "none" }
  | { kind: "userpass"; user: string; pass: string; field: string }
  | { kind: "token"; token: string; field: string }
  | { kind: "nkey"; seed: SecretSource }
  | { kind: "creds"; file: string; field: string };

/** Broker security the JetStream adapter reads. */
export interface BrokerSecurity {
  auth: CompiledNatsAuth;
  tls: CompiledTls | null;
}

/** Backend security the Redis adapter reads. */
export interface BackendSecurity {
  username?: string;
  password?: string;
  tls: CompiledTls | null;
}

/** Signing, checked for shape; key files are read when first used. */
export interface CompiledSigning {
  hmac: SecretSource | null;
  hmacPrevious: string[];
  ed25519: SecretSource | null;
  trustedKeys: string[];
  require: boolean;
}

/** Reads environment variables. */
export type EnvReader = (name: string) => string | undefined;

function str(v: unknown, field: string): string {
  if (typeof v !== "string" || v.trim() === "") {
    throw new ConfigError(field, `must be a non-empty string, got ${typeof v === "string" ? '""' : typeof v}`);
  }
  return v;
}

function list(v: string): string[] {
  return v.split(/[\s,]+/).filter(Boolean);
}

/** Checks an nkey seed given inline; names `field` and says how to get a good one. */
export function checkSeed(seed: string, field: string): void {
  try {
    decodeSeed(seed);
  } catch (err) {
    const why = err instanceof NkeyFormatError ? err.message : String(err);
    throw new ConfigError(
      field,
      `is not a usable nkey seed (${why}); expected "SU…" (58 characters), e.g. from \`nk -gen user\` or nkeys.createUser().getSeed()`,
    );
  }
}

function tlsFrom(env: EnvReader, prefix: string, code: TlsFiles | undefined, field: string): CompiledTls | null {
  if (code !== undefined && (typeof code !== "object" || code === null)) {
    throw new ConfigError(field, "must be an object { ca, cert, key } of file paths");
  }
  const ca = env(`${prefix}_CA`) ?? code?.ca;
  const cert = env(`${prefix}_CERT`) ?? code?.cert;
  const key = env(`${prefix}_KEY`) ?? code?.key;
  if (ca === undefined && cert === undefined && key === undefined) return null;
  const out: CompiledTls = { field };
  if (ca !== undefined) out.ca = str(ca, `${field}.ca`);
  if (cert !== undefined) out.cert = str(cert, `${field}.cert`);
  if (key !== undefined) out.key = str(key, `${field}.key`);
  if ((out.cert === undefined) !== (out.key === undefined)) {
    throw new ConfigError(
      out.cert ? `${field}.key` : `${field}.cert`,
      "a client certificate needs both cert and key (file paths to PEM files)",
    );
  }
  return out;
}

const NATS_ENV = [
  "CELERIAC_NATS_USER",
  "CELERIAC_NATS_PASSWORD",
  "CELERIAC_NATS_TOKEN",
  "CELERIAC_NATS_NKEY_SEED",
  "CELERIAC_NATS_NKEY_SEED_FILE",
  "CELERIAC_NATS_CREDS",
];

function natsAuthFromEnv(env: EnvReader): CompiledNatsAuth | null {
  const set = NATS_ENV.filter((n) => env(n) !== undefined);
  if (set.length === 0) return null;
  const user = env("CELERIAC_NATS_USER");
  const kinds = [
    user !== undefined || env("CELERIAC_NATS_PASSWORD") !== undefined,
    env("CELERIAC_NATS_TOKEN") !== undefined,
    env("CELERIAC_NATS_NKEY_SEED") !== undefined || env("CELERIAC_NATS_NKEY_SEED_FILE") !== undefined,
    env("CELERIAC_NATS_CREDS") !== undefined,
  ];
  if (kinds.filter(Boolean).length > 1 || (env("CELERIAC_NATS_NKEY_SEED") && env("CELERIAC_NATS_NKEY_SEED_FILE"))) {
    throw new ConfigError(
      set.join(", "),
      "set one kind of NATS credentials: user+password, a token, an nkey seed (or its file), or a .creds file",
    );
  }
  if (kinds[0]) {
    if (user === undefined || env("CELERIAC_NATS_PASSWORD") === undefined) {
      throw new ConfigError(
        user === undefined ? "CELERIAC_NATS_USER" : "CELERIAC_NATS_PASSWORD",
        "NATS user and password go together; set both",
      );
    }
    return { kind: "userpass", user, pass: env("CELERIAC_NATS_PASSWORD")!, field: "CELERIAC_NATS_USER/CELERIAC_NATS_PASSWORD" };
  }
  if (kinds[1]) return { kind: "token", token: env("CELERIAC_NATS_TOKEN")!, field: "CELERIAC_NATS_TOKEN" };
  if (kinds[2]) {
    const seed = env("CELERIAC_NATS_NKEY_SEED");
    if (seed !== undefined) checkSeed(seed, "CELERIAC_NATS_NKEY_SEED");
    return {
      kind: "nkey",
      seed: seed !== undefined
        ? { value: seed, field: "CELERIAC_NATS_NKEY_SEED" }
        : { file: env("CELERIAC_NATS_NKEY_SEED_FILE")!, field: "CELERIAC_NATS_NKEY_SEED_FILE" },
    };
  }
  return { kind: "creds", file: env("CELERIAC_NATS_CREDS")!, field: "CELERIAC_NATS_CREDS" };
}

const AUTH_SHAPES = "{ user, pass } | { token } | { nkeySeed } | { nkeySeedFile } | { credsFile }";

function natsAuthFromCode(auth: unknown): CompiledNatsAuth {
  if (auth === undefined) return { kind: "none" };
  const f = "broker.auth";
  if (typeof auth !== "object" || auth === null) throw new ConfigError(f, `must be one of ${AUTH_SHAPES}`);
  const a = auth as Record<string, unknown>;
  const keys = Object.keys(a).filter((k) => a[k] !== undefined);
  const known = ["user", "pass", "token", "nkeySeed", "nkeySeedFile", "credsFile"];
  const unknown = keys.find((k) => !known.includes(k));
  if (unknown) throw new ConfigError(`${f}.${unknown}`, `is not a credential celeriac knows; use one of ${AUTH_SHAPES}`);
  const kinds = ["user" in a || "pass" in a, "token" in a, "nkeySeed" in a, "nkeySeedFile" in a, "credsFile" in a].filter(Boolean);
  if (kinds.length !== 1) throw new ConfigError(f, `set exactly one kind of credentials: ${AUTH_SHAPES}`);
  if (a.user !== undefined || a.pass !== undefined) {
    return { kind: "userpass", user: str(a.user, `${f}.user`), pass: str(a.pass, `${f}.pass`), field: f };
  }
  if (a.token !== undefined) return { kind: "token", token: str(a.token, `${f}.token`), field: `${f}.token` };
  if (a.nkeySeed !== undefined) {
    checkSeed(str(a.nkeySeed, `${f}.nkeySeed`), `${f}.nkeySeed`);
    return { kind: "nkey", seed: { value: a.nkeySeed as string, field: `${f}.nkeySeed` } };
  }
  if (a.nkeySeedFile !== undefined) {
    return { kind: "nkey", seed: { file: str(a.nkeySeedFile, `${f}.nkeySeedFile`), field: `${f}.nkeySeedFile` } };
  }
  return { kind: "creds", file: str(a.credsFile, `${f}.credsFile`), field: `${f}.credsFile` };
}

/** Compiles the broker's credentials and TLS files; `urlHasCredentials` comes from the broker URL. */
export function compileBrokerSecurity(
  o: { auth?: NatsAuth; tls?: TlsFiles } | undefined,
  env: EnvReader,
  urlHasCredentials: boolean,
): BrokerSecurity {
  const auth = natsAuthFromEnv(env) ?? natsAuthFromCode(o?.auth);
  if (auth.kind !== "none" && urlHasCredentials) {
    throw new ConfigError("broker.auth", "credentials are given both in the broker URL and in broker.auth (or CELERIAC_NATS_*); keep one");
  }
  return { auth, tls: tlsFrom(env, "CELERIAC_NATS_TLS", o?.tls, "broker.tls") };
}

/** Compiles the result backend's credentials and TLS files. */
export function compileBackendSecurity(o: BackendOptions | undefined, env: EnvReader, url: URL | null): BackendSecurity {
  if (o !== undefined && (typeof o !== "object" || o === null)) {
    throw new ConfigError("backend", "must be an object { username, password, tls, sentinel, waitReplicas, waitTimeout }");
  }
  const username = env("CELERIAC_REDIS_USER") ?? o?.username;
  const password = env("CELERIAC_REDIS_PASSWORD") ?? o?.password;
  if (username !== undefined) str(username, "backend.username");
  if (password !== undefined) str(password, "backend.password");
  if (url && (url.username || url.password) && (username !== undefined || password !== undefined)) {
    throw new ConfigError("backend.password", "credentials are given both in resultBackend and in backend (or CELERIAC_REDIS_*); keep one");
  }
  const tls = tlsFrom(env, "CELERIAC_REDIS_TLS", o?.tls, "backend.tls");
  if (tls && url && url.protocol !== "rediss:") {
    throw new ConfigError(
      "backend.tls",
      `TLS files are set but resultBackend uses ${url.protocol}//; use rediss://${url.host}${url.pathname}`,
    );
  }
  return { username, password, tls };
}

function secret(
  env: EnvReader,
  envValue: string,
  envFile: string,
  value: unknown,
  file: unknown,
  field: string,
  fileField: string,
): SecretSource | null {
  const ev = env(envValue);
  const ef = env(envFile);
  if (ev !== undefined || ef !== undefined) {
    if (ev !== undefined && ef !== undefined) throw new ConfigError(`${envValue}, ${envFile}`, "set the key or its file, not both");
    return ev !== undefined ? { value: ev, field: envValue } : { file: ef!, field: envFile };
  }
  if (value !== undefined && file !== undefined) throw new ConfigError(field, `set ${field} or ${fileField}, not both`);
  if (value !== undefined) return { value: str(value, field), field };
  if (file !== undefined) return { file: str(file, fileField), field: fileField };
  return null;
}

/** The shortest HMAC key accepted (characters, taken as UTF-8 bytes). */
export const MIN_HMAC_KEY_LENGTH = 32;

/** Checks an HMAC key's length, naming where it came from. */
export function checkHmacKey(key: string, field: string): void {
  if (new TextEncoder().encode(key.trim()).length < MIN_HMAC_KEY_LENGTH) {
    throw new ConfigError(field, `an HMAC key needs at least ${MIN_HMAC_KEY_LENGTH} characters; make one with: openssl rand -base64 32`);
  }
}

/** Compiles signing options; null when signing is off. */
export function compileSigning(o: SigningOptions | undefined, env: EnvReader): CompiledSigning | null {
  if (o !== undefined && (typeof o !== "object" || o === null)) throw new ConfigError("signing", "must be an object");
  const s = o ?? {};
  const hmac = secret(
    env,
    "CELERIAC_SIGNING_KEY",
    "CELERIAC_SIGNING_KEY_FILE",
    s.hmacKey,
    s.hmacKeyFile,
    "signing.hmacKey",
    "signing.hmacKeyFile",
  );
  const ed = secret(
    env,
    "CELERIAC_SIGNING_SEED",
    "CELERIAC_SIGNING_SEED_FILE",
    s.ed25519Seed,
    s.ed25519SeedFile,
    "signing.ed25519Seed",
    "signing.ed25519SeedFile",
  );
  if (hmac && ed) {
    throw new ConfigError(
      "signing",
      `both an HMAC key (${hmac.field}) and an Ed25519 seed (${ed.field}) are set: a message carries one signature; keep one (workers can still check both kinds: trustedKeys for Ed25519)`,
    );
  }
  if (hmac?.value !== undefined) checkHmacKey(hmac.value, hmac.field);
  if (ed?.value !== undefined) checkSeed(ed.value, ed.field);
  const prevEnv = env("CELERIAC_SIGNING_PREVIOUS_KEYS");
  const previous = prevEnv !== undefined ? list(prevEnv) : s.hmacPreviousKeys ?? SIGNING_DEFAULTS.hmacPreviousKeys;
  const prevField = prevEnv !== undefined ? "CELERIAC_SIGNING_PREVIOUS_KEYS" : "signing.hmacPreviousKeys";
  if (!Array.isArray(previous)) throw new ConfigError(prevField, "must be a list of keys");
  previous.forEach((k, i) => checkHmacKey(str(k, `${prevField}[${i}]`), `${prevField}[${i}]`));
  if (previous.length > 0 && !hmac) throw new ConfigError(prevField, "previous HMAC keys need a current one (signing.hmacKey)");
  const trustedEnv = env("CELERIAC_SIGNING_TRUSTED_KEYS");
  const trusted = trustedEnv !== undefined ? list(trustedEnv) : s.trustedKeys ?? SIGNING_DEFAULTS.trustedKeys;
  const trustedField = trustedEnv !== undefined ? "CELERIAC_SIGNING_TRUSTED_KEYS" : "signing.trustedKeys";
  if (!Array.isArray(trusted)) throw new ConfigError(trustedField, "must be a list of public nkeys (U…)");
  trusted.forEach((k, i) => {
    try {
      decodePublicKey(str(k, `${trustedField}[${i}]`));
    } catch (err) {
      throw new ConfigError(
        `${trustedField}[${i}]`,
        `is not a public nkey (${(err as Error).message}); expected "U…" (56 characters), the public key of a producer's seed`,
      );
    }
  });
  const reqEnv = env("CELERIAC_SIGNING_REQUIRE");
  let require: boolean = s.require ?? SIGNING_DEFAULTS.require;
  if (reqEnv !== undefined) {
    if (!/^(1|true|yes|0|false|no)$/i.test(reqEnv)) {
      throw new ConfigError("CELERIAC_SIGNING_REQUIRE", `must be true or false, got "${reqEnv}"`);
    }
    require = /^(1|true|yes)$/i.test(reqEnv);
  }
  if (typeof require !== "boolean") throw new ConfigError("signing.require", "must be true or false");
  if (!hmac && !ed && trusted.length === 0) {
    if (require) {
      throw new ConfigError(
        "signing.require",
        "nothing to check signatures with: set signing.hmacKey, or signing.trustedKeys (and signing.ed25519Seed)",
      );
    }
    return null;
  }
  return { hmac, hmacPrevious: previous, ed25519: ed, trustedKeys: trusted.map((k) => k.trim()), require };
}
