/**
 * The QEMU guest agent inside simulated VMs: what qemu-ga answers for a running VM whose config
 * enables the agent (`agent: 1`). Per VM the agent can be made unresponsive (`down`, as when the
 * qemu-guest-agent service is not installed in the guest) and keeps its fsfreeze state and the
 * files written through it. Tests reach the model with `guestAgentOf(sim.state)`.
 */
import { guestName } from "./resources.ts";
import type { SimGuest, SimState } from "./state.ts";

export interface AgentState {
  /** The agent does not answer (qemu-guest-agent not installed or not running in the guest). */
  down: boolean;
  frozen: boolean;
  files: Map<string, string>;
}

const models = new WeakMap<SimState, Map<number, AgentState>>();

/** The guest-agent state of VM `vmid`, created on first use. */
export function guestAgentOf(state: SimState, vmid: number): AgentState {
  let perVm = models.get(state);
  if (!perVm) models.set(state, (perVm = new Map()));
  let agent = perVm.get(vmid);
  if (!agent) {
    const g = state.guests.get(vmid);
    const host = g ? guestName(g) : `vm${vmid}`;
    agent = {
      down: false,
      frozen: false,
      files: new Map([
        ["/etc/hostname", `${host}\n`],
        ["/etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\nVERSION="13 (trixie)"\nID=debian\n'],
      ]),
    };
    perVm.set(vmid, agent);
  }
  return agent;
}

/** The agent config option: "1", "0", or a property string such as "enabled=1,fstrim_cloned_disks=1". */
export function agentEnabled(config: Record<string, string>): boolean {
  const value = config.agent ?? "";
  const enabled = /(?:^|,)(?:enabled=)?([01])(?:,|$)/.exec(value)?.[1];
  return enabled === "1";
}

function lastOctet(vmid: number): number {
  return 100 + (vmid % 150);
}

export function osInfo(g: SimGuest): Record<string, unknown> {
  if (g.config.ostype?.startsWith("win")) {
    return { name: "Microsoft Windows", "kernel-release": "26100", "kernel-version": "10.0", machine: "x86_64", id: "mswindows", "pretty-name": "Windows 11 Pro", version: "Microsoft Windows 11", "version-id": "11", variant: "client", "variant-id": "client" };
  }
  return { name: "Debian GNU/Linux", "kernel-release": "6.12.48+deb13-amd64", "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.12.48-1 (2025-09-20)", machine: "x86_64", id: "debian", "pretty-name": "Debian GNU/Linux 13 (trixie)", version: "13 (trixie)", "version-id": "13" };
}

export function interfaces(g: SimGuest): unknown[] {
  const mac = /=([0-9A-F:]{17})/i.exec(g.config.net0 ?? "")?.[1]?.toLowerCase() ?? "bc:24:11:00:00:01";
  const ip = `10.0.0.${lastOctet(g.vmid)}`;
  const stats = (rx: number) => ({ "rx-bytes": rx, "rx-packets": Math.round(rx / 900), "rx-errs": 0, "rx-dropped": 0, "tx-bytes": Math.round(rx * 0.38), "tx-packets": Math.round(rx / 1400), "tx-errs": 0, "tx-dropped": 0 });
  return [
    { name: "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [{ "ip-address-type": "ipv4", "ip-address": "127.0.0.1", prefix: 8 }, { "ip-address-type": "ipv6", "ip-address": "::1", prefix: 128 }], statistics: stats(4096) },
    {
      name: "ens18",
      "hardware-address": mac,
      "ip-addresses": [
        { "ip-address-type": "ipv4", "ip-address": ip, prefix: 24 },
        { "ip-address-type": "ipv6", "ip-address": `fe80::be24:11ff:fe00:${g.vmid.toString(16)}`, prefix: 64 },
      ],
      statistics: stats(48_000_000 + g.vmid * 1000),
    },
  ];
}

export function fsInfo(g: SimGuest): unknown[] {
  const gib = 1024 ** 3;
  const disk = [{ "bus-type": "scsi", bus: 0, target: 0, unit: 0, serial: `drive-scsi0`, dev: "/dev/sda1", "pci-controller": { domain: 0, bus: 9, slot: 1, function: 0 } }];
  return [
    { name: "sda1", mountpoint: "/", type: "ext4", "total-bytes": 31 * gib, "used-bytes": Math.round(9.4 * gib + g.vmid * 1_000_000), disk },
    { name: "sda15", mountpoint: "/boot/efi", type: "vfat", "total-bytes": 124 * 1024 ** 2, "used-bytes": 12 * 1024 ** 2, disk: [{ ...disk[0], dev: "/dev/sda15" }] },
  ];
}

export function loggedInUsers(): unknown[] {
  const now = Date.now() / 1000;
  return [{ user: "debian", "login-time": Number((now - 5400.25).toFixed(6)) }];
}
