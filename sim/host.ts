/**
 * What a node's operating system reports: systemd services, network interfaces, disks and their
 * SMART data, pending apt updates, the journal. Derived from the node model so every run looks the
 * same; a few things are wrong on purpose, as on real hosts (pve3's second disk is failing, pve3's
 * ksmtuned is stopped, pve2 has a pending kernel update).
 */
import type { SimNode } from "./state.ts";
import { TaskFailure } from "./tasks.ts";

const GB = 1000 ** 3;

export interface SimService {
  service: string;
  name: string;
  desc: string;
  state: "running" | "dead";
  "active-state": "active" | "inactive" | "failed";
  "unit-state": "enabled" | "disabled" | "masked";
}

/** PVE::API2::Services $service_name_list (PVE 9), with their unit descriptions. */
const services: Array<[string, string]> = [
  ["chrony", "chrony, an NTP client/server"],
  ["corosync", "Corosync Cluster Engine"],
  ["cron", "Regular background program processing daemon"],
  ["ksmtuned", "Kernel Samepage Merging (KSM) Tuning Daemon"],
  ["lxcfs", "FUSE filesystem for LXC"],
  ["postfix", "Postfix Mail Transport Agent (instance -)"],
  ["proxmox-firewall", "Proxmox nftables firewall"],
  ["pve-cluster", "The Proxmox VE cluster filesystem"],
  ["pve-firewall", "Proxmox VE firewall"],
  ["pve-ha-crm", "PVE Cluster HA Resource Manager Daemon"],
  ["pve-ha-lrm", "PVE Local HA Resource Manager Daemon"],
  ["pve-lxc-syscalld", "Proxmox VE LXC Syscall Daemon"],
  ["pvedaemon", "PVE API Daemon"],
  ["pvefw-logger", "Proxmox VE firewall logger"],
  ["pveproxy", "PVE API Proxy Server"],
  ["pvescheduler", "Proxmox VE scheduler"],
  ["pvestatd", "PVE Status Daemon"],
  ["qmeventd", "PVE Qemu Event Daemon"],
  ["spiceproxy", "PVE SPICE Proxy Server"],
  ["sshd", "OpenBSD Secure Shell server"],
  ["syslog", "System Logging Service"],
  ["systemd-journald", "Journal Service"],
  ["systemd-timesyncd", "Network Time Synchronization"],
];

const masked = (service: string): boolean => service === "systemd-timesyncd";

function running(node: SimNode, service: string): boolean {
  return node.services.get(service) ?? !(masked(service) || (service === "ksmtuned" && node.name === "pve3"));
}

export function nodeServices(node: SimNode): SimService[] {
  return services.map(([service, desc]) => {
    const up = running(node, service);
    return {
      service,
      name: service === "syslog" ? "rsyslog" : service,
      desc,
      state: up ? "running" : "dead",
      "active-state": up ? "active" : "inactive",
      "unit-state": masked(service) ? "masked" : "enabled",
    };
  });
}

/** PVE::API2::Services refuses to stop these in the task, before systemctl runs. */
const essential = new Set(["pveproxy", "pvedaemon", "pve-cluster"]);

export type ServiceCommand = "start" | "stop" | "restart" | "try-reload-or-restart";

/**
 * $service_cmd of PVE::API2::Services: `systemctl <cmd> <service>` on the node, run by a srv* task.
 * Throws what the task fails with; systemctl's stderr goes to the task log.
 */
export function serviceCommand(node: SimNode, service: string, cmd: ServiceCommand): void {
  if (cmd === "stop") {
    if (essential.has(service)) throw new Error(`invalid service cmd '${service} ${cmd}': refusing to stop essential service!`);
    node.services.set(service, false);
    return;
  }
  // try-reload-or-restart leaves a stopped unit alone.
  if (cmd === "try-reload-or-restart" && !running(node, service)) return;
  if (masked(service)) throw new TaskFailure(`command 'systemctl ${cmd} ${service}' failed: exit code 1`, [`Failed to ${cmd} ${service}.service: Unit ${service}.service is masked.`]);
  node.services.set(service, true);
}

export function nodeInterfaces(node: SimNode): Array<Record<string, unknown>> {
  return [
    { iface: "eno1", type: "eth", method: "manual", families: ["inet"], active: 1, exists: 1, autostart: 0, priority: 3 },
    { iface: "eno2", type: "eth", method: "manual", families: ["inet"], exists: 1, priority: 4 },
    {
      iface: "vmbr0",
      type: "bridge",
      method: "static",
      families: ["inet"],
      active: 1,
      autostart: 1,
      address: node.ip,
      netmask: "24",
      cidr: `${node.ip}/24`,
      gateway: "10.0.0.1",
      bridge_ports: "eno1",
      bridge_stp: "off",
      bridge_fd: "0",
      bridge_vlan_aware: 1,
      bridge_vids: "2-4094",
      priority: 5,
    },
    { iface: "vmbr1", type: "bridge", method: "static", families: ["inet"], active: 1, autostart: 1, address: `172.16.0.${node.nodeid}`, netmask: "24", cidr: `172.16.0.${node.nodeid}/24`, bridge_ports: "eno2", bridge_stp: "off", bridge_fd: "0", comments: "corosync / migration\n", priority: 6 },
  ];
}

export interface SimDisk {
  devpath: string;
  type: "nvme" | "ssd" | "hdd";
  size: number;
  model: string;
  serial: string;
  vendor: string;
  wwn: string;
  health: "PASSED" | "FAILED" | "OK";
  wearout: number | "N/A";
  rpm: number;
  used: string;
  /** SMART attributes (ATA) or the smartctl text (NVMe). */
  smart: { type: "ata"; attributes: Array<Record<string, unknown>> } | { type: "text"; text: string };
}

function ata(id: number, name: string, value: number, worst: number, threshold: number, raw: string, flags = "PO--CK"): Record<string, unknown> {
  const fail = value <= threshold && threshold > 0 ? "NOW" : "-";
  return { id: String(id).padStart(3, " "), name, value, worst, threshold, fail, flags, raw, normalized: value };
}

export function nodeDisks(node: SimNode): SimDisk[] {
  const serial = (n: number) => `S${node.nodeid}${n}X${(node.nodeid * 7919 + n * 104729).toString(36).toUpperCase().padStart(8, "0")}`;
  const disks: SimDisk[] = [
    {
      devpath: "/dev/nvme0n1",
      type: "nvme",
      size: 1000 * GB + 204_886_016,
      model: "Samsung SSD 980 PRO 1TB",
      serial: serial(0),
      vendor: "unknown",
      wwn: `eui.002538b${node.nodeid}1b40c${node.nodeid}e7`,
      health: "PASSED",
      wearout: 100 - 3 * node.nodeid,
      rpm: 0,
      used: "LVM",
      smart: {
        type: "text",
        text: `SMART/Health Information (NVMe Log 0x02)\nCritical Warning:                   0x00\nTemperature:                        3${node.nodeid} Celsius\nAvailable Spare:                    100%\nAvailable Spare Threshold:          10%\nPercentage Used:                    ${3 * node.nodeid}%\nData Units Written:                 ${41_337_112 * node.nodeid} [${21 * node.nodeid} TB]\nPower On Hours:                     ${9000 + 1000 * node.nodeid}\nUnsafe Shutdowns:                   ${node.nodeid + 11}\nMedia and Data Integrity Errors:    0\n`,
      },
    },
  ];
  const failing = node.name === "pve3";
  disks.push({
    devpath: "/dev/sda",
    type: "hdd",
    size: 4000 * GB + 787_456_000,
    model: "WDC_WD40EFRX-68N32N0",
    serial: serial(1),
    vendor: "ATA",
    wwn: `0x50014ee2b${node.nodeid}c4d5e6`,
    health: failing ? "FAILED" : "PASSED",
    wearout: "N/A",
    rpm: 5400,
    used: "ext4",
    smart: {
      type: "ata",
      attributes: [
        ata(1, "Raw_Read_Error_Rate", failing ? 51 : 200, failing ? 51 : 200, 51, failing ? "12873" : "0", "POSR-K"),
        ata(5, "Reallocated_Sector_Ct", failing ? 3 : 200, failing ? 3 : 200, 140, failing ? "1984" : "0"),
        ata(9, "Power_On_Hours", 61, 61, 0, String(28_000 + 1000 * node.nodeid), "-O--CK"),
        ata(194, "Temperature_Celsius", 117, 103, 0, `3${node.nodeid + 2}`, "-O---K"),
        ata(197, "Current_Pending_Sector", 200, 200, 0, failing ? "37" : "0", "-O--CK"),
        ata(199, "UDMA_CRC_Error_Count", 200, 200, 0, "0", "-O--CK"),
      ],
    },
  });
  return disks;
}

export function pendingUpdates(node: SimNode): Array<Record<string, string>> {
  const base = [
    { Package: "pve-manager", Title: "Proxmox Virtual Environment Management Tools", OldVersion: "9.1.7", Version: "9.1.8", Section: "admin", Priority: "optional" },
    { Package: "libpve-common-perl", Title: "Proxmox VE base library", OldVersion: "9.0.11", Version: "9.0.12", Section: "perl", Priority: "optional" },
    { Package: "openssl", Title: "Secure Sockets Layer toolkit - cryptographic utility", OldVersion: "3.5.1-1", Version: "3.5.1-1+deb13u1", Section: "utils", Priority: "optional" },
  ];
  if (node.name === "pve2") {
    base.push({ Package: "proxmox-kernel-6.17", Title: "Latest Proxmox Kernel Image", OldVersion: "6.17.4-2", Version: "6.17.9-1", Section: "admin", Priority: "optional" });
  }
  return base.map((u) => ({
    ...u,
    Arch: u.Package === "libpve-common-perl" ? "all" : "amd64",
    Origin: u.Package === "openssl" ? "Debian" : "Proxmox",
    Description: `${u.Title}.`,
  }));
}

const journalMessages: Array<[string, string]> = [
  ["pvedaemon", "<root@pam> successful auth for user 'root@pam'"],
  ["pveproxy", "worker 3641 finished"],
  ["pveproxy", "starting 1 worker(s)"],
  ["pvestatd", "status update time (5.122 seconds)"],
  ["systemd", "Started session-1289.scope - Session 1289 of User root."],
  ["corosync", "[TOTEM ] Retransmit List: 1a2b"],
  ["pmxcfs", "[status] notice: received log"],
  ["kernel", "vmbr0: port 2(tap100i0) entered forwarding state"],
  ["cron", "(root) CMD (test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.hourly; })"],
  ["smartd", "Device: /dev/sda [SAT], SMART Usage Attribute: 194 Temperature_Celsius changed from 118 to 117"],
  ["pve-ha-lrm", "successfully acquired lock 'ha_agent_pve1_lock'"],
  ["chronyd", "Selected source 162.159.200.1 (2.debian.pool.ntp.org)"],
];

export interface JournalLine {
  time: number;
  text: string;
}

/** The last `count` journal lines up to `now`, one a minute, as journalctl's short-iso output. */
export function journal(node: SimNode, now: number, count = 600): JournalLine[] {
  const lines: JournalLine[] = [];
  for (let i = count - 1; i >= 0; i--) {
    const time = now - (now % 60) - i * 60;
    const [tag, msg] = journalMessages[(i * 7 + node.nodeid) % journalMessages.length];
    const pid = tag === "kernel" ? "" : `[${1000 + ((i * 31 + node.nodeid) % 9000)}]`;
    const stamp = new Date(time * 1000).toISOString().replace(/\.\d{3}Z$/, "+0000");
    const text = msg.replace("ha_agent_pve1_lock", `ha_agent_${node.name}_lock`);
    lines.push({ time, text: `${stamp} ${node.name} ${tag}${pid}: ${text}` });
  }
  if (node.name === "pve3") {
    const time = now - (now % 60) - 90;
    lines.push({ time, text: `${new Date(time * 1000).toISOString().replace(/\.\d{3}Z$/, "+0000")} pve3 smartd[812]: Device: /dev/sda [SAT], 37 Currently unreadable (pending) sectors` });
    lines.sort((a, b) => a.time - b.time);
  }
  return lines;
}
