import { createSocket } from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { SyslogListener, parseSyslog, syslogEvent } from "../../../../agent/events/listeners/syslog.ts";
import { collector, eventually, memoryLog } from "../helpers.ts";

const RFC5424 =
  '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 4242 ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high" note="say \\"hi\\" \\]"] \uFEFFAn application event log entry';
const RFC3164 = "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8";
const PVE = "<30>Nov 23 09:01:01 pve1 pvedaemon[671521]: <root@pam> starting task UPID:pve1:000A3F21:0115C0DE:6922CE4D:qmstart:100:root@pam:";

describe("syslog parser", () => {
  it("reads RFC 5424: priority, timestamp, host, app, procid, msgid, structured data, BOM-stripped message", () => {
    const m = parseSyslog(RFC5424);
    expect(m).toEqual({
      format: "rfc5424",
      facility: 20,
      severity: 5,
      time: new Date("2003-10-11T22:14:15.003Z"),
      hostname: "mymachine.example.com",
      app: "evntslog",
      procid: "4242",
      msgid: "ID47",
      structured: {
        "exampleSDID@32473": { iut: "3", eventSource: "Application", eventID: "1011" },
        "examplePriority@32473": { class: "high", note: 'say "hi" ]' },
      },
      message: "An application event log entry",
    });
  });

  it("reads RFC 5424 with nil values and no message", () => {
    expect(parseSyslog("<14>1 - - - - - -")).toEqual({ format: "rfc5424", facility: 1, severity: 6, message: "" });
  });

  it("reads RFC 3164 with host and tag, and with a tag[pid] but no host", () => {
    const now = new Date(2026, 10, 23, 12, 0, 0);
    expect(parseSyslog(RFC3164, now)).toEqual({ format: "rfc3164", facility: 4, severity: 2, time: new Date(2026, 9, 11, 22, 14, 15), hostname: "mymachine", app: "su", message: "'su root' failed for lonvick on /dev/pts/8" });
    expect(parseSyslog(PVE, now)).toMatchObject({ hostname: "pve1", app: "pvedaemon", procid: "671521", severity: 6, facility: 3 });
    expect(parseSyslog("<13>Feb  5 17:32:18 sshd[99]: hello", now)).toMatchObject({ app: "sshd", procid: "99", message: "hello", time: new Date(2026, 1, 5, 17, 32, 18) });
  });

  it("puts a December message read in January in last year", () => {
    expect(parseSyslog("<13>Dec 31 23:59:59 h app: x", new Date(2027, 0, 1, 0, 0, 5)).time).toEqual(new Date(2026, 11, 31, 23, 59, 59));
  });

  it.each(["", "no priority at all", "<999>out of range", "<13>1 ", "<13>1 2026-01-01T00:00:00Z host app - - [broken sd", "<13>Jan", "\u0000\u0001\u00ff"])(
    "never throws on malformed input %j and keeps the text",
    (text) => {
      const m = parseSyslog(text);
      expect(typeof m.message).toBe("string");
      const e = syslogEvent(m, "127.0.0.1");
      expect(e.severity).toBeDefined();
      expect(e.node).toBeDefined();
    },
  );

  it("maps syslog severities onto event severities", () => {
    const sev = (pri: number) => syslogEvent(parseSyslog(`<${pri}>1 - h a - - - x`)).severity;
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((s) => sev(8 + s))).toEqual(["critical", "critical", "critical", "error", "warning", "notice", "info", "debug"]);
  });
});

describe("syslog listener over UDP", () => {
  let listener: SyslogListener | undefined;
  afterEach(async () => {
    await listener?.stop();
  });

  it("turns RFC 5424 and RFC 3164 datagrams into events", async () => {
    const { emit, events } = collector();
    listener = new SyslogListener({ address: "127.0.0.1", port: 0, emit, log: memoryLog().log });
    await listener.start();
    const client = createSocket("udp4");
    for (const text of [RFC5424, PVE, "garbage without anything"]) {
      await new Promise<void>((resolve, reject) => client.send(Buffer.from(text), listener!.port, "127.0.0.1", (err) => (err ? reject(err) : resolve())));
    }
    client.close();
    await eventually(() => events.length === 3, "three syslog events");
    expect(events[0]).toMatchObject({ source: "syslog", node: "mymachine.example.com", severity: "notice", title: "evntslog: An application event log entry", metadata: { format: "rfc5424", facility: "local4", msgid: "ID47", app: "evntslog" } });
    expect(events[1]).toMatchObject({ node: "pve1", severity: "info", metadata: { format: "rfc3164", facility: "daemon", app: "pvedaemon", procid: "671521" } });
    expect(events[1].message).toContain("starting task UPID:pve1");
    expect(events[2]).toMatchObject({ node: "127.0.0.1", severity: "notice", message: "garbage without anything" });
    expect(listener.counters()).toMatchObject({ received: 3, emitted: 3 });
  });
});
