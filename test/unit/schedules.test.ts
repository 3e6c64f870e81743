import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, crontab, every } from "../../src/mod.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const berlin = (ms: number) => new Date(ms).toLocaleString("sv-SE", { timeZone: "Europe/Berlin" });

function runs(s: ReturnType<typeof crontab>, fromIso: string, n: number): number[] {
  const out: number[] = [];
  let t = Date.parse(fromIso);
  for (let i = 0; i < n; i++) out.push(t = s.next(t)!);
  return out;
}

describe("schedules", () => {
  it("every(s) fires at multiples of its interval since the epoch, the same in every process", () => {
    const s = every(10);
    assert.equal(iso(s.next(Date.parse("2026-01-01T00:00:03Z"))), "2026-01-01T00:00:10.000Z");
    assert.equal(iso(s.next(Date.parse("2026-01-01T00:00:10Z"))), "2026-01-01T00:00:20.000Z", "strictly after");
    assert.equal(iso(s.previous(Date.parse("2026-01-01T00:00:10Z"))), "2026-01-01T00:00:10.000Z", "at or before");
    assert.equal(iso(s.previous(Date.parse("2026-01-01T00:00:19.999Z"))), "2026-01-01T00:00:10.000Z");
    assert.equal(iso(every(0.25).next(Date.parse("2026-01-01T00:00:00.1Z"))), "2026-01-01T00:00:00.250Z");
    assert.equal(iso(every(60, { offset: 15 }).next(Date.parse("2026-01-01T00:00:20Z"))), "2026-01-01T00:01:15.000Z");
  });

  it("crontab in Europe/Berlin keeps wall-clock time across both daylight-saving changes", () => {
    const s = crontab("0 3 * * *", { tz: "Europe/Berlin" });
    const spring = runs(s, "2026-03-27T12:00:00Z", 3);
    assert.deepEqual(spring.map(berlin), ["2026-03-28 03:00:00", "2026-03-29 03:00:00", "2026-03-30 03:00:00"]);
    assert.deepEqual(spring.map(iso), ["2026-03-28T02:00:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-30T01:00:00.000Z"]);
    const autumn = runs(s, "2026-10-23T12:00:00Z", 3);
    assert.deepEqual(autumn.map(berlin), ["2026-10-24 03:00:00", "2026-10-25 03:00:00", "2026-10-26 03:00:00"]);
    assert.deepEqual(autumn.map(iso), ["2026-10-24T01:00:00.000Z", "2026-10-25T02:00:00.000Z", "2026-10-26T02:00:00.000Z"]);
  });

  it("a time skipped in spring fires when the gap ends; a time repeated in autumn fires once", () => {
    const s = crontab("30 2 * * *", { tz: "Europe/Berlin" });
    const spring = runs(s, "2026-03-28T12:00:00Z", 2);
    assert.deepEqual(spring.map(berlin), ["2026-03-29 03:00:00", "2026-03-30 02:30:00"]);
    const autumn = runs(s, "2026-10-24T12:00:00Z", 2);
    assert.deepEqual(autumn.map(berlin), ["2026-10-25 02:30:00", "2026-10-26 02:30:00"]);
    assert.equal(autumn[1]! - autumn[0]!, 25 * 3600_000, "the long day has 25 hours; one fire on it");
  });

  it("previous() gives the latest fire at or before a time", () => {
    const s = crontab("*/15 * * * *");
    assert.equal(iso(s.previous(Date.parse("2026-01-01T10:44:59Z"))), "2026-01-01T10:30:00.000Z");
    assert.equal(iso(s.previous(Date.parse("2026-01-01T10:45:00Z"))), "2026-01-01T10:45:00.000Z");
  });

  it("bad schedules fail at once and say what is wrong", () => {
    assert.throws(() => crontab("61 * * * *"), (e: unknown) => e instanceof ConfigError && /minute/.test(e.message));
    assert.throws(
      () => crontab("0 3 * * *", { tz: "Mars/Olympus" }),
      (e: unknown) => e instanceof ConfigError && /Mars\/Olympus/.test(e.message),
    );
    assert.throws(() => every(0), (e: unknown) => e instanceof ConfigError && /every\(seconds\)/.test(e.message));
  });
});
