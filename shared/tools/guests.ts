import { z } from "zod";
import { defineTool, pageInput, pageOutput } from "../tool.ts";
import { guestType, nodeName, upid, vmid } from "./common.ts";
import { taskOutcome, taskWait } from "./tasks.ts";

const guestSummary = z.object({
  vmid: z.number().int(),
  name: z.string().optional(),
  type: z.enum(["qemu", "lxc"]),
  node: z.string(),
  status: z.string().describe("running, stopped, paused, ..."),
  template: z.boolean(),
  cpu: z.number().optional(),
  maxcpu: z.number().optional(),
  mem: z.number().optional(),
  maxmem: z.number().optional(),
  uptime: z.number().optional(),
  tags: z.string().optional(),
});

export const guestList = defineTool({
  name: "guest_list",
  privileges: ["VM.Audit"],
  title: "List guests (VMs and containers)",
  description:
    "Lists VMs and containers across the cluster with node, status and usage; filter by node, type, status.",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({
    node: nodeName.optional(),
    type: guestType.optional(),
    status: z.string().optional().describe("Exact state, e.g. running or stopped."),
    ...pageInput,
  }),
  output: z.object({ guests: z.array(guestSummary), ...pageOutput }),
});

export const guestStatus = defineTool({
  name: "guest_status",
  privileges: ["VM.Audit"],
  title: "Guest status",
  description:
    "Live state of one VM or container: status, uptime, CPU, memory, lock. node and type are looked up when omitted.",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({ vmid, node: nodeName.optional(), type: guestType.optional() }),
  output: z.object({
    vmid: z.number().int(),
    node: z.string(),
    type: z.enum(["qemu", "lxc"]),
    status: z.string(),
    name: z.string().optional(),
    uptime: z.number().optional(),
    cpu: z.number().optional(),
    mem: z.number().optional(),
    maxmem: z.number().optional(),
    lock: z.string().optional(),
    qmpstatus: z.string().optional(),
  }),
});

const powerOutput = z.object({
  vmid: z.number().int(),
  node: z.string(),
  action: z.string(),
  upid,
  status: z.enum(["running", "stopped"]).describe("Task state: running if the wait ended first."),
  exitstatus: z.string().optional().describe("OK, or the task's error text."),
});


export const guestPower = defineTool({
  name: "guest_power",
  privileges: ["VM.Audit", "VM.PowerMgmt"],
  title: "Start, shut down or reboot a guest",
  description:
    "Clean power change of a VM or container, following the task: start; shutdown (asks the guest OS); reboot; suspend; " +
    "resume. To cut power without asking the guest, use guest_stop.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid,
    action: z.enum(["start", "shutdown", "reboot", "suspend", "resume"]),
    node: nodeName.optional(),
    type: guestType.optional(),
    ...taskWait,
  }),
  output: powerOutput,
});

export const guestStop = defineTool({
  name: "guest_stop",
  privileges: ["VM.Audit", "VM.PowerMgmt"],
  title: "Hard-stop or reset a guest",
  description:
    "DESTRUCTIVE: stop (or reset, VMs only) cuts a guest's power at once; unsaved guest data is lost. " +
    "Prefer guest_power shutdown; use this when the guest does not respond.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  mutating: true,
  input: z.object({ vmid, action: z.enum(["stop", "reset"]).default("stop"), node: nodeName.optional(), type: guestType.optional(), ...taskWait }),
  output: powerOutput,
});

/** Where a guest is: node and type are looked up from the vmid when omitted. */
const where = { node: nodeName.optional(), type: guestType.optional() };
const guestRef = { vmid: z.number().int(), node: z.string(), type: z.enum(["qemu", "lxc"]) };
const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true } as const;
/** Values of guest config keys; numbers and booleans are accepted and sent as PVE's text (true -> 1). */
const configRecord = z.record(z.string(), z.coerce.string());

export const guestInfo = defineTool({
  name: "guest_info",
  title: "Guest details: config, pending changes, RRD, snapshots, Terraform",
  description:
    "Reads one VM or container. config: settings (pending applied) and digest for guest_config_update; " +
    "pending: changes waiting for the next start; rrd: usage history (cpu, mem, net, disk); snapshots: the snapshot tree; " +
    "terraform: a bpg/proxmox OpenTofu/Terraform resource with import block. Live status: guest_status.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({
    vmid,
    action: z.enum(["config", "pending", "rrd", "snapshots", "terraform"]),
    ...where,
    current: z.boolean().optional().describe("config: values in effect now, without pending."),
    timeframe: z.enum(["hour", "day", "week", "month", "year"]).default("hour").describe("rrd: period."),
    cf: z.enum(["AVERAGE", "MAX"]).default("AVERAGE").describe("rrd: consolidation."),
  }),
  output: z.object({
    ...guestRef,
    action: z.string(),
    config: z.record(z.string(), z.string()).optional().describe("config: key -> value as in the guest's .conf file."),
    digest: z.string().optional().describe("config, pending: SHA-1 of the config file."),
    pending: z
      .array(z.object({ key: z.string(), value: z.string().optional(), pending: z.string().optional(), delete: z.boolean().optional() }))
      .optional()
      .describe("pending: only keys with a pending change or deletion."),
    rrd: z
      .array(z.object({ time: z.number().int(), cpu: z.number().optional(), maxcpu: z.number().optional(), mem: z.number().optional(), maxmem: z.number().optional(),
        netin: z.number().optional(), netout: z.number().optional(), diskread: z.number().optional(), diskwrite: z.number().optional() }))
      .optional()
      .describe("rrd: one row per step, oldest first; cpu is a fraction of maxcpu, net/disk in bytes per second."),
    snapshots: z
      .array(z.object({ name: z.string(), parent: z.string().optional(), snaptime: z.number().int().optional(), description: z.string().optional(),
        vmstate: z.boolean().optional(), current: z.boolean().optional() }))
      .optional()
      .describe("snapshots: 'current' marks where the guest is now (its parent is the latest snapshot)."),
    terraform: z.string().optional().describe("terraform: HCL text (resource plus import block)."),
  }),
});

export const guestConfigUpdate = defineTool({
  name: "guest_config_update",
  title: "Change a guest's configuration",
  description:
    "Sets or deletes VM/container config keys in PVE's names and formats, e.g. set {cores: 4, memory: 8192, tags: 'prod;web'}. " +
    "On a running guest, what cannot hot-plug stays pending (listed). Disks (incl. deleting them): guest_disk; NICs: guest_network; " +
    "cloud-init: guest_cloudinit.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  mutating: true,
  input: z.object({
    vmid,
    ...where,
    set: configRecord.optional().describe("key -> value; true/false are sent as 1/0."),
    delete: z.array(z.string()).optional().describe("Keys to reset to PVE's default."),
    digest: z.string().regex(/^[0-9a-f]{40}$/).optional().describe("From guest_info config; refuse if changed since."),
  }),
  output: z.object({
    ...guestRef,
    changed: z.array(z.string()).describe("Keys set or deleted."),
    pending: z.array(z.string()).describe("Keys whose change waits for the next start (empty for a stopped guest)."),
    digest: z.string().describe("The digest after the change."),
  }),
});

export const guestCreate = defineTool({
  name: "guest_create",
  title: "Create a VM or container",
  description:
    "Creates a VM (qemu) or container (lxc). params: PVE create options, e.g. VM {name, memory: 4096, cores: 2, " +
    "scsi0: 'local-lvm:32', net0: 'virtio,bridge=vmbr0', ide2: 'local:iso/x.iso,media=cdrom'}; container {ostemplate: " +
    "'local:vztmpl/x.tar.zst', hostname, rootfs: 'local-lvm:8', net0: 'name=eth0,bridge=vmbr0,ip=dhcp', password}; " +
    "'<storage>:<GiB>' allocates a disk. ISOs/templates: storage_info content. Copy: guest_clone; restore: backup_restore.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    type: guestType,
    node: nodeName,
    vmid: vmid.optional().describe("Default: the next free ID."),
    params: configRecord.default({}),
    storage: z.string().optional().describe("For disks given without storage."),
    pool: z.string().optional().describe("Resource pool."),
    start: z.boolean().optional(),
    ...taskWait,
  }),
  output: z.object({ ...guestRef, ...taskOutcome }),
});

export const guestClone = defineTool({
  name: "guest_clone",
  title: "Clone a VM or container",
  description:
    "Copies a guest or template to a new vmid. Ordinary guests are fully copied; templates give a linked clone (shares base " +
    "disks) unless full=true. Deploy from a cloud-init template this way, then adjust with guest_cloudinit.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid: vmid.describe("Source guest or template."),
    ...where,
    newid: vmid.optional().describe("Default: the next free ID."),
    name: z.string().optional().describe("VM name or container hostname."),
    target: nodeName.optional().describe("Other node: disks or storage= must be shared."),
    full: z.boolean().optional().describe("false: linked clone (templates only)."),
    storage: z.string().optional().describe("Full clone: disk storage."),
    snapname: z.string().optional().describe("Clone this snapshot's state."),
    pool: z.string().optional().describe("Resource pool."),
    description: z.string().optional(),
    ...taskWait,
  }),
  output: z.object({ ...guestRef, newid: z.number().int(), target: z.string(), ...taskOutcome }),
});

export const guestTemplate = defineTool({
  name: "guest_template",
  title: "Convert a guest into a template",
  description:
    "DESTRUCTIVE (cannot be undone): turns a stopped guest without snapshots into a template; its disks become read-only bases " +
    "and it can never start again, only be cloned (guest_clone). For golden images.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  mutating: true,
  input: z.object({ vmid, ...where, ...taskWait }),
  output: z.object({ ...guestRef, ...taskOutcome }),
});

export const guestDelete = defineTool({
  name: "guest_delete",
  title: "Delete a VM or container",
  description:
    "DESTRUCTIVE: destroys a guest and all its disks. PVE refuses a running guest (shut it down first) or one with protection=1. " +
    "Consider backup_run first.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  mutating: true,
  input: z.object({
    vmid,
    ...where,
    purge: z.boolean().default(true).describe("Also drop it from backup jobs, replication, HA."),
    destroy_unreferenced_disks: z.boolean().optional().describe("Also destroy disks with its vmid not in its config."),
    ...taskWait,
  }),
  output: z.object({ ...guestRef, ...taskOutcome }),
});

export const guestMigrate = defineTool({
  name: "guest_migrate",
  title: "Migrate a guest to another node",
  description:
    "Moves a guest to another node. Stopped: offline, local disks copied. Running VM: online=true (local disks: also " +
    "with_local_disks=true). Running container: restart=true (shut down, move, start).",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid,
    target: nodeName.describe("Destination node."),
    ...where,
    online: z.boolean().optional().describe("VM: live-migrate."),
    restart: z.boolean().optional().describe("Container only."),
    with_local_disks: z.boolean().optional().describe("VM only."),
    target_storage: z.string().optional().describe("Target storage, or map 'src:dst,...'."),
    ...taskWait,
  }),
  output: z.object({ ...guestRef, target: z.string(), ...taskOutcome }),
});

export const guestDisk = defineTool({
  name: "guest_disk",
  title: "Add, resize, move or remove a guest disk",
  description:
    "One disk of a VM (scsiN, virtioN, sataN, ideN, efidisk0, tpmstate0) or container (rootfs, mpN). " +
    "add: new disk on storage; resize: grow only; move: to another storage (old copy stays unusedN); " +
    "remove: DESTRUCTIVE, destroys the volume and its data.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid,
    action: z.enum(["add", "resize", "move", "remove"]),
    disk: z.string().regex(/^(scsi|virtio|sata|ide|mp|unused)\d+$|^(efidisk0|tpmstate0|rootfs)$/, "a disk key such as scsi1, virtio0, mp0 or rootfs").describe("e.g. scsi1, mp0."),
    ...where,
    size: z.string().regex(/^\+?\d+(\.\d+)?[KMGT]?$/, "a size such as 32, 50G or +10G").optional().describe("add: GiB, e.g. 32; resize: '50G' or '+10G'."),
    storage: z.string().optional().describe("add, move."),
    mp: z.string().optional().describe("add mpN: path in the container, e.g. /srv."),
    options: z.string().optional().describe("add: e.g. 'iothread=1,discard=on'."),
    delete_source: z.boolean().optional().describe("move: delete the old volume."),
    keep_volume: z.boolean().optional().describe("remove: only detach, keep as unusedN."),
    digest: z.string().regex(/^[0-9a-f]{40}$/).optional().describe("Refuse if the config changed since."),
    ...taskWait,
  }),
  output: z.object({
    ...guestRef,
    action: z.string(),
    disk: z.string(),
    value: z.string().optional().describe("The disk's config line afterwards (absent after remove)."),
    unused: z.string().optional().describe("remove with keep_volume / move without delete_source: the unusedN key holding the old volume."),
    pending: z.boolean().optional().describe("The change waits for the guest's next start."),
    upid: z.string().optional(),
    status: taskOutcome.status.optional(),
    exitstatus: z.string().optional(),
  }),
});

export const guestNetwork = defineTool({
  name: "guest_network",
  title: "Add, change or remove a guest network interface",
  description:
    "One NIC (netN) of a VM or container. add: new NIC (bridge vmbr0, VM model virtio, MAC generated unless given); " +
    "update: changes only the given fields; remove: deletes it. What cannot hot-plug is reported pending.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid,
    action: z.enum(["add", "update", "remove"]),
    net: z.string().regex(/^net\d+$/, "net0, net1, ..."),
    ...where,
    bridge: z.string().optional(),
    model: z.enum(["virtio", "e1000", "e1000e", "rtl8139", "vmxnet3"]).optional().describe("VM only."),
    macaddr: z.string().regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/).optional(),
    tag: z.number().int().min(1).max(4094).optional().describe("VLAN tag."),
    firewall: z.boolean().optional(),
    rate: z.number().positive().optional().describe("Limit, MB/s."),
    mtu: z.number().int().min(1).max(65520).optional(),
    link_down: z.boolean().optional().describe("VM only."),
    name: z.string().optional().describe("CT: name inside, default eth<N>."),
    ip: z.string().optional().describe("CT: IPv4 CIDR, 'dhcp' or 'manual'."),
    gw: z.string().optional().describe("CT only."),
    ip6: z.string().optional().describe("CT: IPv6 CIDR, 'auto', 'dhcp' or 'manual'."),
    gw6: z.string().optional().describe("CT only."),
    digest: z.string().regex(/^[0-9a-f]{40}$/).optional(),
  }),
  output: z.object({ ...guestRef, action: z.string(), net: z.string(), value: z.string().optional().describe("The NIC's config line afterwards."), pending: z.boolean() }),
});

export const guestCloudinit = defineTool({
  name: "guest_cloudinit",
  title: "Set a VM's cloud-init user, keys and network",
  description:
    "Sets a VM's cloud-init options and regenerates its cloud-init drive for the next boot; typical after guest_clone. " +
    "Without a cloud-init drive (e.g. ide2: local-lvm:cloudinit) they are only stored. VMs only: containers use guest_network.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  mutating: true,
  input: z.object({
    vmid,
    node: nodeName.optional(),
    ciuser: z.string().optional(),
    cipassword: z.string().optional(),
    sshkeys: z.string().optional().describe("OpenSSH public keys, one per line."),
    ipconfig: z.record(z.string().regex(/^ipconfig\d+$/), z.string()).optional().describe("e.g. {ipconfig0: 'ip=10.0.0.5/24,gw=10.0.0.1'}, 'ip=dhcp'"),
    nameserver: z.string().optional(),
    searchdomain: z.string().optional(),
    ciupgrade: z.boolean().optional().describe("Upgrade packages on first boot."),
    regenerate: z.boolean().default(true).describe("Rebuild the drive now."),
  }),
  output: z.object({
    ...guestRef,
    set: z.array(z.string()),
    drive: z.string().optional().describe("The cloud-init drive, e.g. ide2; absent when the VM has none."),
    regenerated: z.boolean(),
    pending: z.array(z.string()).describe("Cloud-init options not yet on the drive."),
  }),
});

export const guestPool = defineTool({
  name: "guest_pool",
  title: "Add guests to or remove them from a resource pool",
  description:
    "Adds guests to or removes them from a resource pool (used by permissions and backup jobs); returns its members. " +
    "A guest is in one pool at most.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  mutating: true,
  input: z.object({
    action: z.enum(["add", "remove"]),
    poolid: z.string().min(1),
    vmids: z.array(vmid).min(1),
    allow_move: z.boolean().optional().describe("add: take guests from their current pool."),
  }),
  output: z.object({ poolid: z.string(), action: z.string(), vmids: z.array(z.number().int()), members: z.array(z.number().int()).describe("Guests in the pool afterwards.") }),
});

export const pool = defineTool({
  name: "pool",
  title: "Create, update or delete a resource pool",
  description:
    "Creates a resource pool (nested: parent/child), changes its comment, or deletes it; PVE deletes only an empty pool. " +
    "Members: guest_pool; list: cluster_info action=pools.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  mutating: true,
  input: z.object({ action: z.enum(["create", "update", "delete"]), poolid: z.string().min(1), comment: z.string().optional() }),
  output: z.object({ action: z.string(), poolid: z.string(), comment: z.string().optional(), members: z.number().int().optional().describe("Guests in it.") }),
});

export const guestConsole = defineTool({
  name: "guest_console",
  title: "Open a VNC or terminal console ticket",
  description:
    "Opens a console proxy; returns a one-time ticket, port and websocket path, valid ~10 s. vnc: graphical (noVNC, with " +
    "password); term: text terminal (xterm.js; guest must run). Use when a human must see or type into the console.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({ vmid, ...where, kind: z.enum(["vnc", "term"]).default("vnc") }),
  output: z.object({
    ...guestRef,
    kind: z.string(),
    user: z.string(),
    port: z.number().int(),
    ticket: z.string(),
    password: z.string().optional().describe("vnc: the VNC password."),
    upid: z.string(),
    websocket: z.string().describe("API path of the websocket to connect to with this ticket."),
  }),
});
