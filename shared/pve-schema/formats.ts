/**
 * Named string formats of the PVE API with the validators and messages PVE registers for them
 * (PVE::JSONSchema in pve-common, plus pve-access-control, pve-storage, qemu-server, pve-manager).
 * A validator throws a FormatError whose message, like Perl's `die "...\n"`, ends in a newline;
 * PVE::JSONSchema::check_prop prefixes it with "invalid format - ".
 *
 * Formats not listed here (mostly hash-based property-string formats referred to by name, such as
 * 'pve-qm-ide') are accepted unchecked: their key schemas are not in the published API dump.
 */

import { allPrivileges } from "./privileges.ts";

export class FormatError extends Error {}

type Validator = (value: string) => void;

function fail(message: string): never {
  throw new FormatError(`${message}\n`);
}

function ensure(ok: boolean, message: string): void {
  if (!ok) fail(message);
}

// Regexes copied from PVE::ParseUtils (pve-common src/PVE/ParseUtils.pm).
const ipv4Octet = "(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])";
const ipv4Re = `(?:(?:${ipv4Octet}\\.){3}${ipv4Octet})`;
const h16 = "(?:[0-9a-fA-F]{1,4})";
const ls32 = `(?:(?:${ipv4Re}|${h16}:${h16}))`;
const ipv6Re =
  "(?:" +
  `(?:(?:(?:${h16}:){6})${ls32})|` +
  `(?:(?:::(?:${h16}:){5})${ls32})|` +
  `(?:(?:(?:${h16})?::(?:${h16}:){4})${ls32})|` +
  `(?:(?:(?:(?:${h16}:){0,1}${h16})?::(?:${h16}:){3})${ls32})|` +
  `(?:(?:(?:(?:${h16}:){0,2}${h16})?::(?:${h16}:){2})${ls32})|` +
  `(?:(?:(?:(?:${h16}:){0,3}${h16})?::(?:${h16}:){1})${ls32})|` +
  `(?:(?:(?:(?:${h16}:){0,4}${h16})?::)${ls32})|` +
  `(?:(?:(?:(?:${h16}:){0,5}${h16})?::)${h16})|` +
  `(?:(?:(?:(?:${h16}:){0,6}${h16})?::)))`;
const emailUserRe = "[\\w\\+\\-\\~]+(\\.[\\w\\+\\-\\~]+)*";
const emailRe = `${emailUserRe}@[a-zA-Z0-9\\-]+(\\.[a-zA-Z0-9\\-]+)*`;
// PVE::Auth::Plugin
const realmRe = "[A-Za-z][A-Za-z0-9\\.\\-_]+";
const userRe = "[^\\s:/]+";

const whole = (re: string, flags = ""): RegExp => new RegExp(`^(?:${re})$`, flags);
const isIpv4 = (v: string): boolean => whole(ipv4Re).test(v);
const isIpv6 = (v: string): boolean => whole(ipv6Re).test(v);
const isDnsName = (v: string): boolean =>
  /^(([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)\.)*([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)$/.test(v);

function cidrOk(v: string, ipRe: string, min: number, max: number): boolean {
  const m = new RegExp(`^(?:${ipRe})(?:/(\\d+))$`).exec(v);
  return m !== null && Number(m[1]) > min && Number(m[1]) <= max;
}
const isCidrV4 = (v: string): boolean => cidrOk(v, ipv4Re, 7, 32);
const isCidrV6 = (v: string): boolean => cidrOk(v, ipv6Re, 7, 128);

/** PVE::ParseUtils::split_list: NUL-separated, or separated by commas, semicolons and spaces. */
export function splitList(text: string): string[] {
  if (text.includes("\0")) return text.split("\0");
  return text.replace(/[,;]/g, " ").trim().split(/\s+/).filter((s) => s !== "");
}

/** PVE::JSONSchema::parse_id */
function parseId(type: string): Validator {
  return (id) => {
    ensure(id.length >= 2, `${type} ID '${id}' cannot be shorter than 2 characters`);
    ensure(/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(id), `${type} ID '${id}' contains illegal characters`);
  };
}

/** PVE::JSONSchema::parse_idmap, as used by the storage-pair and bridge-pair formats. */
function idPair(idFormat: Validator): Validator {
  return (input) => {
    try {
      parseIdMap(input, idFormat);
    } catch (err) {
      // verify_idpair re-dies with "$@\n", so the message ends in two newlines.
      if (err instanceof FormatError) throw new FormatError(`${err.message}\n`);
      throw err;
    }
  };
}

function parseIdMap(idmap: string, idFormat: Validator): void {
  const entries = new Set<string>();
  let identity = false;
  let hasDefault = false;
  const checkId = (entry: string, id: string): void => {
    try {
      idFormat(id);
    } catch (err) {
      if (err instanceof FormatError) fail(`entry '${entry}' contains invalid ID - ${err.message}`);
      throw err;
    }
  };
  for (const entry of splitList(idmap)) {
    const pair = /^([^:]+):([^:]+)$/.exec(entry);
    if (entry === "1") {
      identity = true;
    } else if (pair) {
      checkId(entry, pair[1]);
      checkId(entry, pair[2]);
      ensure(!entries.has(pair[1]), `duplicate mapping for source '${pair[1]}'`);
      entries.add(pair[1]);
    } else {
      checkId(entry, entry);
      ensure(!hasDefault, "default target ID can only be provided once");
      hasDefault = true;
    }
  }
  ensure(!(identity && (hasDefault || entries.size > 0)), "identity mapping cannot be combined with other mappings");
}

function verifyUsername(name: string): void {
  ensure(name.length >= 3, `user name '${name}' is too short`);
  ensure(name.length <= 64, `user name '${name}' is too long (${name.length} > 64)`);
  ensure(whole(`(${userRe})@(${realmRe})`).test(name), `value '${name}' does not look like a valid user name`);
}

function verifyStartupOrder(value: string): void {
  const parts = value.split(",").filter((p) => !/^\s*$/.test(p));
  const ok = value !== "" && value !== "0" && parts.every((p) => /^((order=)?\d+|up=\d+|down=\d+)$/.test(p));
  ensure(ok, "unable to parse startup options");
}

function verifyVlanIdOrRange(vlan: string): void {
  const m = /^(\d+)(?:-(\d+))?$/.exec(vlan);
  ensure(m !== null, `invalid VLAN configuration '${vlan}'`);
  const [start, end] = [Number(m![1]), m![2] === undefined ? undefined : Number(m![2])];
  for (const tag of end === undefined ? [start] : [start, end]) ensure(tag >= 2 && tag <= 4094, `invalid VLAN tag '${tag}'`);
  ensure(end === undefined || start < end, `VLAN range must go from lower to higher tag '${vlan}'`);
}

function verifyHotplug(value: string): void {
  if (value === "0" || value === "1") return;
  for (const feature of splitList(value)) {
    ensure(/^(network|disk|cpu|memory|usb|cloudinit)$/.test(feature), `invalid hotplug feature '${feature}'`);
  }
}

const ipv4Masks = new Set(
  Array.from({ length: 33 }, (_, bits) => {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return [24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff).join(".");
  }),
);

// PVE::Storage::Plugin::valid_content_types('dir') plus 'import', which verify_content allows.
const storageContentTypes = new Set(["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import", "none"]);

const privilegeSet = new Set<string>(allPrivileges);

// pve-firewall PVE/Firewall.pm: a few names of /etc/services and /etc/protocols, and its parsers.
const etcServices = new Set(["ssh", "http", "https", "domain", "smtp", "submission", "imap", "imaps", "pop3", "pop3s", "ntp", "snmp", "ldap", "ldaps", "ftp", "telnet", "rsync", "mysql", "postgresql", "bootps", "bootpc", "tftp", "syslog", "nfs", "sunrpc", "microsoft-ds", "netbios-ssn", "kerberos", "openvpn", "git"]);
const etcProtocols = new Set(["ip", "icmp", "igmp", "tcp", "udp", "ipv6", "ipv6-icmp", "icmpv6", "gre", "esp", "ah", "ospf", "vrrp", "sctp", "l2tp", "udplite"]);
const icmpTypeNames = new Set(["any", "echo-reply", "destination-unreachable", "echo-request", "time-exceeded", "parameter-problem", "redirect", "router-advertisement", "router-solicitation", "timestamp-request", "timestamp-reply"]);
const ipAliasRe = /^(?:(?:dc|guest)\/)?[A-Za-z][A-Za-z0-9\-_]+$/;

/** PVE::Firewall::parse_port_name_number_or_range */
function verifyPortSpec(dport: boolean): Validator {
  return (str) => {
    const elements = str.split(",");
    ensure(!elements.some((e) => e === ""), "extraneous commas in list");
    let count = 0;
    let icmp = false;
    for (const item of elements) {
      const range = /^(\d+):(\d+)$/.exec(item);
      if (range) {
        count += 2;
        const [a, b] = [Number(range[1]), Number(range[2])];
        ensure(a <= 65535, `invalid port '${range[1]}'`);
        ensure(b <= 65535, `invalid port '${range[2]}'`);
        ensure(a <= b, `backwards range '${a}:${b}' not allowed, did you mean '${b}:${a}'?`);
      } else if (/^\d+$/.test(item)) {
        count += 1;
        ensure(Number(item) <= 65535, `invalid port '${item}'`);
      } else if (dport && icmpTypeNames.has(item)) {
        icmp = true;
      } else {
        ensure(etcServices.has(item), `invalid port '${item}'`);
      }
    }
    ensure(!(icmp && count > 0), "ICMP ports not allowed in port range");
    ensure(count <= 15, "too many entries in port list (> 15 numbers)");
  };
}

/** PVE::Firewall::parse_address_list: an ipset (+name), an alias, or IPs, networks and ranges of one family. */
function verifyAddressList(str: string): void {
  if (/^\+\S+$/.test(str)) return ensure(str.length <= 65, "ipset name too long");
  if (ipAliasRe.test(str)) return ensure(str.length <= 64, "alias name too long");
  const elements = str.split(",");
  ensure(!elements.some((e) => e === ""), "extraneous commas in list");
  const families = new Set<number>();
  for (const elem of elements) {
    const range = /^([^-]+)-([^-]+)$/.exec(elem);
    const parts = range ? [range[1], range[2]] : [elem];
    for (const part of parts) {
      const v4 = isIpv4(part) || (!range && isCidrV4(part));
      const v6 = isIpv6(part) || (!range && isCidrV6(part));
      ensure(v4 || v6, `invalid IP address: ${part}`);
      families.add(v4 ? 4 : 6);
    }
  }
  ensure(families.size < 2, "unable to mix ipv4 and ipv6 addresses in list");
}

const validators: Record<string, Validator> = {
  string: () => {},
  urlencoded: (v) => ensure(/^[-%a-zA-Z0-9_.!~*'()]*$/.test(v), `invalid urlencoded string: ${v}`),
  "pve-configid": (v) => ensure(/^[a-z][a-z0-9_-]+$/i.test(v), `invalid configuration ID '${v}'`),
  "pve-storage-id": parseId("storage"),
  "acme-plugin-id": parseId("ACME plugin"),
  "pve-bridge-id": (v) => ensure(/^[-_.\w\d]+$/.test(v), `invalid bridge ID '${v}'`),
  "pve-vmid": (v) => ensure(/^[1-9][0-9]{2,8}$/.test(v), "value does not look like a valid VM ID"),
  "pve-node": (v) => ensure(/^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)$/.test(v), "value does not look like a valid node name"),
  "pve-ha-resource-or-vm-id": (v) => ensure(/^([a-z]+:\S+|\d+)$/.test(v), "value does not look like a valid ha resource id"),
  "storage-pair": idPair(parseId("storage")),
  "bridge-pair": idPair((v) => ensure(/^[-_.\w\d]+$/.test(v), `invalid bridge ID '${v}'`)),
  "mac-addr": (v) => ensure(/^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$/i.test(v), "value does not look like a valid unicast MAC address"),
  ipv4: (v) => ensure(isIpv4(v), "value does not look like a valid IPv4 address"),
  ipv6: (v) => ensure(isIpv6(v), "value does not look like a valid IPv6 address"),
  ip: (v) => ensure(isIpv4(v) || isIpv6(v), "value does not look like a valid IP address"),
  ipv4mask: (v) => ensure(ipv4Masks.has(v), "value does not look like a valid IP netmask"),
  CIDRv4: (v) => ensure(isCidrV4(v), "value does not look like a valid IPv4 CIDR network"),
  CIDRv6: (v) => ensure(isCidrV6(v), "value does not look like a valid IPv6 CIDR network"),
  CIDR: (v) => ensure(isCidrV4(v) || isCidrV6(v), "value does not look like a valid CIDR network"),
  "pve-ipv4-config": (v) => ensure(/^(?:dhcp|manual)$/.test(v) || isCidrV4(v), "value does not look like a valid ipv4 network configuration"),
  "pve-ipv6-config": (v) => ensure(/^(?:auto|dhcp|manual)$/.test(v) || isCidrV6(v), "value does not look like a valid ipv6 network configuration"),
  email: (v) => ensure(whole(emailRe).test(v), "value does not look like a valid email address"),
  "email-or-username": (v) =>
    ensure(whole(emailRe).test(v) || whole(emailUserRe).test(v), "value does not look like a valid email address or user name"),
  "dns-name": (v) => ensure(isDnsName(v), "value does not look like a valid DNS name"),
  "pve-iface": (v) => ensure(/^[a-z][a-z0-9_]{1,20}([:.]\d+)?$/i.test(v), `invalid network interface name '${v}'`),
  "pve-vlan-id-or-range": verifyVlanIdOrRange,
  address: (v) => ensure(isIpv4(v) || isIpv6(v) || isDnsName(v), `value does not look like a valid address: ${v}`),
  "disk-size": (v) => ensure(/^(\d+(\.\d+)?)([KMGT](?:iB)?)?$/.test(v), `value does not look like a valid disk size: ${v}`),
  "pve-startup-order": verifyStartupOrder,
  "pve-tag": (v) => ensure(/^[a-z0-9_][a-z0-9_\-+.]*$/i.test(v), "invalid characters in tag"),
  "pve-task-status-type": (v) => ensure(/^(ok|error|warning|unknown)$/i.test(v), `invalid status '${v}'`),
  "pve-realm": (v) => ensure(whole(realmRe).test(v), "value does not look like a valid realm"),
  "pve-userid": verifyUsername,
  "pve-tokenid": (v) =>
    ensure(whole(`((${userRe})@(${realmRe}))!(${realmRe})`).test(v), `value '${v}' does not look like a valid token ID`),
  "pve-groupid": (v) => ensure(/^[A-Za-z0-9.\-_]+$/.test(v), `group name '${v}' contains invalid characters`),
  "pve-roleid": (v) => ensure(/^[A-Za-z0-9.\-_]+$/.test(v), `role name '${v}' contains invalid characters`),
  "pve-poolid": (v) => {
    ensure(v.split("/").length <= 3, `pool name '${v}' nested too deeply (max levels = 3)`);
    ensure(/^[A-Za-z0-9.\-_]+(?:\/[A-Za-z0-9.\-_]+){0,2}$/.test(v), `pool name '${v}' contains invalid characters`);
  },
  "pve-priv": (v) => ensure(privilegeSet.has(v), `invalid privilege '${v}'`),
  "pve-storage-path": (v) => ensure(/^\/[^;()]+/.test(v), "value does not look like a valid absolute path"),
  "pve-storage-server": (v) =>
    ensure(isIpv4(v) || isIpv6(v) || isDnsName(v), "value does not look like a valid server name or IP address"),
  "pve-storage-vgname": (v) => ensure(/^[a-z0-9][a-z0-9\-_.]*[a-z0-9]$/i.test(v), `lvm name '${v}' contains illegal characters`),
  "pve-storage-content": (v) => ensure(storageContentTypes.has(v), `invalid content type '${v}'`),
  "pve-storage-format": (v) => ensure(/^(raw|qcow2|vmdk|subvol)$/.test(v), `invalid format '${v}'`),
  "pve-storage-options": (v) => ensure(/^\S+$/.test(v), `invalid options '${v}'`),
  "pve-volume-id": (v) => ensure(/^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/is.test(v), `unable to parse volume ID '${v}'`),
  "pve-day-of-week": (v) => ensure(/^(mon|tue|wed|thu|fri|sat|sun)$/.test(v), `invalid day '${v}'`),
  "pve-hotplug-features": verifyHotplug,
  "pve-fw-addr-spec": verifyAddressList,
  "pve-fw-dport-spec": verifyPortSpec(true),
  "pve-fw-sport-spec": verifyPortSpec(false),
  "pve-fw-protocol-spec": (v) => ensure(etcProtocols.has(v) || (/^\d+$/.test(v) && Number(v) <= 255), `unknown protocol '${v}'`),
};

/** The validator PVE registers under `name`, or undefined when the simulator does not know it. */
export function namedFormat(name: string): Validator | undefined {
  return Object.hasOwn(validators, name) ? validators[name] : undefined;
}
