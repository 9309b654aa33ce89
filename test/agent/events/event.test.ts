import { describe, expect, it } from "vitest";
import { eventFilterSchema, eventSchema, matchesFilter } from "../../../shared/event.ts";
import { sampleEvent } from "./helpers.ts";

// shared/event.ts is tested here because this part of the project owns only test/agent/events/.
const event = sampleEvent;

describe("event schema and filter", () => {
  it("parses a valid event and refuses a bad severity or source", () => {
    expect(eventSchema.parse(event)).toEqual(event);
    expect(eventSchema.safeParse({ ...event, severity: "fatal" }).success).toBe(false);
    expect(eventSchema.safeParse({ ...event, source: "smtp" }).success).toBe(false);
    expect(eventSchema.safeParse({ ...event, time: "yesterday" }).success).toBe(false);
  });

  it("refuses unknown filter keys, naming them", () => {
    const bad = eventFilterSchema.safeParse({ min_severity: "warning", severity: "error" });
    expect(bad.success).toBe(false);
  });

  it.each([
    [{}, true],
    [{ min_severity: "error" }, true],
    [{ min_severity: "critical" }, false],
    [{ node: "pve1" }, true],
    [{ node: "pve2" }, false],
    [{ source: ["pve-task", "syslog"] }, true],
    [{ source: ["journal"] }, false],
    [{ include: ["CONFIGURATION"] }, true],
    [{ include: ["backup", "nothing"] }, false],
    [{ exclude: ["root@pam"] }, false],
    [{ exclude: ["nothing"] }, true],
    [{ vmid: 101 }, true],
    [{ vmid: 100 }, false],
    [{ type: "qmstart" }, true],
    [{ type: "vzdump" }, false],
    [{ min_severity: "warning", node: "pve1", vmid: 101, include: ["failed"] }, true],
  ] as const)("filter %j → %s", (filter, expected) => {
    expect(matchesFilter(event, eventFilterSchema.parse(filter))).toBe(expected);
  });
});
