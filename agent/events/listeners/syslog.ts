import { createSocket, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import type { Logger } from "../../../shared/log.ts";
import { severityFromSyslog, type Emit, type EventListener, type ListenerCounters, type RawEvent } from "../source.ts";
import { firstLine, validDate } from "../text.ts";
import { isLoopback } from "./webhook.ts";

export interface SyslogOptions {
  address: string;
  /** 0 picks a free port (tests); read it back from `port`. */
  port: number;
  emit: Emit;
  log: Logger;
}

/** What could be read from one syslog message; every field but `message` may be missing. */
export interface SyslogMessage {
  format: "rfc5424" | "rfc3164";
  facility?: number;
  severity?: number;
  time?: Date;
  hostname?: string;
  app?: string;
  procid?: string;
  msgid?: string;
  structured?: Record<string, Record<string, string>>;
  message: string;
}

const facilities = [
  "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
  "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];
const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const BSD_TIME = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? +/;
const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?) +/;
const TAG = /^([^\s:[\]]{1,48})(?:\[([^\]]*)\])?:(?: |$)/;

/**
 * Parses an RFC 5424 or RFC 3164 (BSD) syslog message. Never throws: what cannot be read stays in
 * `message`, a missing priority is left undefined, a 3164 timestamp without a year gets the year that
 * puts it nearest to `now`.
 */
export function parseSyslog(text: string, now: Date = new Date()): SyslogMessage {
  let rest = text.replace(/[\r\n\0]+$/, "");
  let facility: number | undefined;
  let severity: number | undefined;
  const pri = /^<(\d{1,3})>/.exec(rest);
  if (pri && Number(pri[1]) <= 191) {
    facility = Math.floor(Number(pri[1]) / 8);
    severity = Number(pri[1]) % 8;
    rest = rest.slice(pri[0].length);
  }
  const version = /^[1-9]\d? /.exec(rest);
  if (version && pri) return { facility, severity, ...parse5424(rest.slice(version[0].length)) };
  return { facility, severity, ...parse3164(rest, now) };
}

function parse5424(text: string): Omit<SyslogMessage, "facility" | "severity"> {
  const reader = new Tokens(text);
  const time = nil(reader.word());
  const hostname = nil(reader.word());
  const app = nil(reader.word());
  const procid = nil(reader.word());
  const msgid = nil(reader.word());
  const structured = reader.structuredData();
  const message = reader.rest().replace(/^\uFEFF/, "");
  const date = validDate(time);
  return {
    format: "rfc5424",
    ...(date ? { time: date } : {}),
    ...(hostname ? { hostname } : {}),
    ...(app ? { app } : {}),
    ...(procid ? { procid } : {}),
    ...(msgid ? { msgid } : {}),
    ...(structured ? { structured } : {}),
    message,
  };
}

function parse3164(text: string, now: Date): Omit<SyslogMessage, "facility" | "severity"> {
  let rest = text;
  let time: Date | undefined;
  const bsd = BSD_TIME.exec(rest);
  const iso = bsd ? null : ISO_TIME.exec(rest);
  if (bsd) {
    time = bsdDate(bsd, now);
    rest = rest.slice(bsd[0].length);
  } else if (iso) {
    time = validDate(iso[1]);
    rest = rest.slice(iso[0].length);
  }
  let hostname: string | undefined;
  // A header (timestamp) is followed by the host name, unless the sender left it out and the next word is already the tag.
  const host = time ? /^([^\s:[\]]+) +/.exec(rest) : null;
  if (host && !TAG.test(rest)) {
    hostname = host[1];
    rest = rest.slice(host[0].length);
  }
  const tag = TAG.exec(rest);
  if (tag) rest = rest.slice(tag[0].length);
  return {
    format: "rfc3164",
    ...(time ? { time } : {}),
    ...(hostname ? { hostname } : {}),
    ...(tag ? { app: tag[1] } : {}),
    ...(tag?.[2] ? { procid: tag[2] } : {}),
    message: rest,
  };
}

function bsdDate(m: RegExpExecArray, now: Date): Date | undefined {
  const month = months.indexOf(m[1]);
  if (month < 0) return undefined;
  const at = (year: number) => new Date(year, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
  const guess = at(now.getFullYear());
  // December's messages read in January belong to last year; a date far ahead is last year's too.
  if (guess.getTime() - now.getTime() > 7 * 86_400_000) return at(now.getFullYear() - 1);
  return guess;
}

function nil(value: string | undefined): string | undefined {
  return value === "-" || value === "" ? undefined : value;
}

/** Cursor over an RFC 5424 header: space-separated words, then structured data, then the message. */
class Tokens {
  private pos = 0;
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  word(): string | undefined {
    if (this.pos >= this.text.length) return undefined;
    const end = this.text.indexOf(" ", this.pos);
    const word = this.text.slice(this.pos, end < 0 ? undefined : end);
    this.pos = end < 0 ? this.text.length : end + 1;
    return word;
  }

  /** `-` or `[id k="v" ...][id2 ...]`, with `\"`, `\\` and `\]` escapes in values; undefined if nil or unreadable. */
  structuredData(): Record<string, Record<string, string>> | undefined {
    if (this.text[this.pos] === "-") {
      this.pos += 2;
      return undefined;
    }
    const out: Record<string, Record<string, string>> = {};
    let found = false;
    while (this.text[this.pos] === "[") {
      const element = this.element();
      if (!element) break;
      out[element.id] = element.params;
      found = true;
    }
    if (this.text[this.pos] === " ") this.pos++;
    return found ? out : undefined;
  }

  rest(): string {
    return this.text.slice(Math.min(this.pos, this.text.length));
  }

  private element(): { id: string; params: Record<string, string> } | undefined {
    const start = this.pos;
    const head = /^\[([^\s\]=]+)/.exec(this.text.slice(this.pos));
    if (!head) return undefined;
    this.pos += head[0].length;
    const params: Record<string, string> = {};
    for (;;) {
      if (this.text[this.pos] === "]") {
        this.pos++;
        return { id: head[1], params };
      }
      const name = /^ ([^\s=\]"]+)="/.exec(this.text.slice(this.pos));
      if (!name) break;
      this.pos += name[0].length;
      const value = this.quoted();
      if (value === undefined) break;
      params[name[1]] = value;
    }
    this.pos = start;
    return undefined;
  }

  private quoted(): string | undefined {
    let value = "";
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos++];
      if (ch === '"') return value;
      if (ch === "\\" && ['"', "\\", "]"].includes(this.text[this.pos])) value += this.text[this.pos++];
      else value += ch;
    }
    return undefined;
  }
}

/** Turns one parsed syslog message into a raw event; the sender's address stands in for a missing host name. */
export function syslogEvent(msg: SyslogMessage, remote?: string): RawEvent {
  const app = msg.app ?? "syslog";
  const node = msg.hostname ?? remote;
  return {
    source: "syslog",
    time: msg.time,
    node,
    // RFC 3164 §4.3.3: a message without a priority is treated as user.notice.
    severity: severityFromSyslog(msg.severity ?? 5),
    title: `${app}: ${firstLine(msg.message)}`,
    message: msg.message,
    metadata: {
      format: msg.format,
      ...(msg.facility !== undefined ? { facility: facilities[msg.facility] ?? String(msg.facility) } : {}),
      ...(msg.severity !== undefined ? { syslog_severity: msg.severity } : {}),
      app,
      ...(msg.procid ? { procid: msg.procid } : {}),
      ...(msg.msgid ? { msgid: msg.msgid } : {}),
      ...(msg.structured ? { structured_data: msg.structured } : {}),
      ...(msg.hostname ? { hostname: msg.hostname } : {}),
      ...(remote ? { remote_address: remote } : {}),
    },
    rateKey: `syslog\0${node ?? ""}\0${app}`,
  };
}

/** Receives syslog datagrams (RFC 5424 or 3164, one message per datagram) and emits each as an event. */
export class SyslogListener implements EventListener {
  readonly name = "syslog";
  private readonly opts: SyslogOptions;
  private socket?: Socket;
  private readonly stats: ListenerCounters = { received: 0, emitted: 0, errors: 0 };

  constructor(opts: SyslogOptions) {
    this.opts = opts;
  }

  get port(): number {
    return this.socket?.address().port ?? this.opts.port;
  }

  async start(): Promise<void> {
    const socket = createSocket(isIPv6(this.opts.address) ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        socket.close();
        reject(err);
      };
      socket.once("error", fail);
      socket.bind(this.opts.port, this.opts.address, () => {
        socket.off("error", fail);
        resolve();
      });
    });
    socket.on("error", (err) => {
      this.stats.errors++;
      this.opts.log.warn("syslog socket error", { error: err.message });
    });
    socket.on("message", (data, rinfo) => this.receive(data, rinfo.address));
    this.socket = socket;
    if (!isLoopback(this.opts.address)) this.opts.log.warn("syslog listener bound beyond loopback; syslog over UDP is unauthenticated", { address: this.opts.address });
    this.opts.log.info("syslog listener ready", { address: this.opts.address, port: this.port });
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  counters(): ListenerCounters {
    return { ...this.stats };
  }

  private receive(data: Buffer, remote: string): void {
    this.stats.received++;
    const text = data.toString("utf8");
    let event: RawEvent;
    try {
      event = syslogEvent(parseSyslog(text), remote);
    } catch (err) {
      this.stats.errors++;
      event = syslogEvent({ format: "rfc3164", message: text }, remote);
      this.opts.log.debug("syslog message not parsed", { error: (err as Error).message });
    }
    this.stats.emitted++;
    this.opts.emit(event);
  }
}
