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
    "Lists virtual machines and containers across the cluster with node, status and usage. " +
    "Filter by node, type (qemu or lxc) and status (running, stopped).",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({
    node: nodeName.optional(),
    type: guestType.optional(),
    status: z.string().optional().describe("Only guests in this state, e.g. running or stopped."),
    ...pageInput,
  }),
  output: z.object({ guests: z.array(guestSummary), ...pageOutput }),
});

export const guestStatus = defineTool({
  name: "guest_status",
  privileges: ["VM.Audit"],
  title: "Guest status",
  description:
    "Shows the current state of one VM or container: status, uptime, CPU, memory, disk and network counters, lock, HA state. " +
    "node and type are looked up when omitted.",
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
    "Changes a VM's or container's power state cleanly: start, shutdown (asks the guest OS), reboot, suspend, resume. " +
    "Returns the PVE task; with wait=true (default) it follows the task, reporting progress, and returns its exit status. " +
    "To cut power without asking the guest, use guest_stop.",
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
    "DESTRUCTIVE: stops (or, for VMs, resets) a guest immediately, like pulling the plug; unsaved data in the guest is lost " +
    "and filesystems may need a check. Prefer guest_power with shutdown; use this when a guest does not respond.",
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
    "Reads one VM or container. action=config: the configuration (pending changes applied; current=true for the running values) " +
    "and its digest, to pass to guest_config_update so a concurrent change is detected. action=pending: each key with its current " +
    "and pending value (changes that wait for the next start) and pending deletions. action=rrd: usage history (cpu, mem, netin/out, " +
    "diskread/write per second) for timeframe hour|day|week|month|year, cf AVERAGE or MAX. action=snapshots: the snapshot tree " +
    "(name, parent, time, description, RAM state). action=terraform: the guest as an OpenTofu/Terraform resource of the bpg/proxmox " +
    "provider (proxmox_virtual_environment_vm or _container) with an import block, to bring it under infrastructure-as-code. " +
    "For status and live usage use guest_status; for the list of guests, guest_list.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({
    vmid,
    action: z.enum(["config", "pending", "rrd", "snapshots", "terraform"]),
    ...where,
    current: z.boolean().optional().describe("config: the values in effect now, without pending changes."),
    timeframe: z.enum(["hour", "day", "week", "month", "year"]).default("hour").describe("rrd: the period (default hour)."),
    cf: z.enum(["AVERAGE", "MAX"]).default("AVERAGE").describe("rrd: consolidation function (default AVERAGE)."),
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
    "Sets and deletes configuration keys of a VM or container in PVE's own names and formats, e.g. set {cores: 4, memory: 8192, " +
    "name: 'web02', onboot: 1, tags: 'prod;web', description: '...'}, delete ['balloon']. Pass digest from guest_info action=config " +
    "to refuse the change if someone else changed the guest meanwhile (PVE's own error). On a running guest PVE applies what it can " +
    "hot-plug and keeps the rest pending until the next start: the answer lists the keys still pending. " +
    "For disks use guest_disk, for NICs guest_network, for cloud-init guest_cloudinit; deleting disk or unused keys is refused here.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  mutating: true,
  input: z.object({
    vmid,
    ...where,
    set: configRecord.optional().describe("Keys to set, e.g. {\"cores\": \"4\"}; numbers and booleans are sent as text (true -> 1)."),
    delete: z.array(z.string()).optional().describe("Keys to remove (set back to PVE's default)."),
    digest: z.string().regex(/^[0-9a-f]{40}$/).optional().describe("The config digest the change is based on."),
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
    "Creates a new VM (type qemu) or container (type lxc) on a node. vmid defaults to the next free id. params passes PVE's create " +
    "options through, e.g. for a VM {name, memory: 4096, cores: 2, scsi0: 'local-lvm:32', net0: 'virtio,bridge=vmbr0', ostype: 'l26', " +
    "ide2: 'local:iso/debian-12.iso,media=cdrom', scsihw: 'virtio-scsi-single'}; for a container {ostemplate: " +
    "'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst', hostname, memory, rootfs: 'local-lvm:8', " +
    "net0: 'name=eth0,bridge=vmbr0,ip=dhcp', password}. '<storage>:<GiB>' allocates a new disk. Find templates and ISOs with " +
    "storage_info action=content. To copy an existing guest use guest_clone; to restore a backup, backup_restore.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    type: guestType,
    node: nodeName,
    vmid: vmid.optional().describe("New guest ID; default: the next free one (/cluster/nextid)."),
    params: configRecord.default({}).describe("PVE create options (config keys and e.g. ostemplate, password for containers)."),
    storage: z.string().optional().describe("Default storage for disks given without one."),
    pool: z.string().optional().describe("Add the new guest to this resource pool."),
    start: z.boolean().optional().describe("Start the guest once it is created."),
    ...taskWait,
  }),
  output: z.object({ ...guestRef, ...taskOutcome }),
});

export const guestClone = defineTool({
  name: "guest_clone",
  title: "Clone a VM or container",
  description:
    "Copies a guest (or a template) to a new vmid. full=true copies every disk (the default for ordinary guests); full=false makes " +
    "a linked clone, which PVE allows only from a template and which shares the template's base disks. target puts the clone on " +
    "another node (needs shared storage, or storage= a shared one). name is the new VM name (container: hostname). Cloning a " +
    "template is the usual way to deploy a new VM from a cloud-init image; adjust it afterwards with guest_cloudinit. " +
    "Follows the task with progress; newid defaults to the next free id.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid: vmid.describe("The guest or template to copy."),
    ...where,
    newid: vmid.optional().describe("ID of the clone; default: the next free one."),
    name: z.string().optional().describe("Name (VM) or hostname (container) of the clone."),
    target: nodeName.optional().describe("Node for the clone (default: the source's node)."),
    full: z.boolean().optional().describe("true: full copy; false: linked clone (templates only). Default: full, linked for templates."),
    storage: z.string().optional().describe("Storage for the clone's disks (full clones only)."),
    snapname: z.string().optional().describe("Clone the state of this snapshot."),
    pool: z.string().optional().describe("Add the clone to this pool."),
    description: z.string().optional(),
    ...taskWait,
  }),
  output: z.object({ ...guestRef, newid: z.number().int(), target: z.string(), ...taskOutcome }),
});

export const guestTemplate = defineTool({
  name: "guest_template",
  title: "Convert a guest into a template",
  description:
    "DESTRUCTIVE (cannot be undone): turns a stopped VM or container without snapshots into a template. Its disks become read-only " +
    "base volumes; it can no longer be started, only cloned (linked clones share its disks). Use for a golden image you will deploy " +
    "with guest_clone.",
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
    "DESTRUCTIVE: destroys a guest and all its disks. PVE refuses a running guest (stop it first with guest_power shutdown or " +
    "guest_stop) and a guest with protection=1. purge=true (default) also removes the vmid from backup jobs, replication and HA. " +
    "Consider backup_run first.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  mutating: true,
  input: z.object({
    vmid,
    ...where,
    purge: z.boolean().default(true).describe("Also remove it from backup jobs, replication and HA (default true)."),
    destroy_unreferenced_disks: z.boolean().optional().describe("Also destroy disks on enabled storages that carry its vmid but are not in its config."),
    ...taskWait,
  }),
  output: z.object({ ...guestRef, ...taskOutcome }),
});

export const guestMigrate = defineTool({
  name: "guest_migrate",
  title: "Migrate a guest to another node",
  description:
    "Moves a VM or container to another cluster node. A stopped guest moves offline (local disks are copied). A running VM needs " +
    "online=true (live migration; with local disks also with_local_disks=true). A running container cannot move live: restart=true " +
    "shuts it down, moves it and starts it on the target. Follows the task with progress (the latest log line); afterwards the guest " +
    "is on `target`.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid,
    target: nodeName.describe("Node to move the guest to."),
    ...where,
    online: z.boolean().optional().describe("Live-migrate a running VM (PVE 'online')."),
    restart: z.boolean().optional().describe("Container: shut down, migrate, start again (PVE 'restart')."),
    with_local_disks: z.boolean().optional().describe("VM: live-migrate disks on local storage too (PVE 'with-local-disks')."),
    target_storage: z.string().optional().describe("Storage on the target for the disks, or a map 'src:dst,...' (PVE 'targetstorage')."),
    ...taskWait,
  }),
  output: z.object({ ...guestRef, target: z.string(), ...taskOutcome }),
});

export const guestDisk = defineTool({
  name: "guest_disk",
  title: "Add, resize, move or remove a guest disk",
  description:
    "Manages one disk of a VM (scsi0, virtio1, sata0, ide0, efidisk0) or a container (rootfs, mp0, mp1, ...). " +
    "action=add: a new disk of size GiB on storage (size '32', storage 'local-lvm'; containers also need mp, the mount path); " +
    "options adds drive options such as 'iothread=1,discard=on'. action=resize: grow to size ('50G') or by size ('+10G'); PVE never " +
    "shrinks. action=move: move to another storage (delete_source removes the old copy, else it stays as an unused disk). " +
    "action=remove (DESTRUCTIVE): detaches the disk and destroys its volume and data; keep_volume=true only detaches it " +
    "(it stays as unusedN and can be re-attached). Find storages with storage_info.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid,
    action: z.enum(["add", "resize", "move", "remove"]),
    disk: z.string().regex(/^(scsi|virtio|sata|ide|mp|unused)\d+$|^(efidisk0|tpmstate0|rootfs)$/, "a disk key such as scsi1, virtio0, mp0 or rootfs").describe("Disk key, e.g. scsi1 or mp0."),
    ...where,
    size: z.string().regex(/^\+?\d+(\.\d+)?[KMGT]?$/, "a size such as 32, 50G or +10G").optional().describe("add: GiB ('32'); resize: new size ('50G') or growth ('+10G')."),
    storage: z.string().optional().describe("add, move: the storage."),
    mp: z.string().optional().describe("add (container mount point): path inside the container, e.g. /srv/data."),
    options: z.string().optional().describe("add: extra drive options, e.g. 'iothread=1,discard=on' or 'backup=0'."),
    delete_source: z.boolean().optional().describe("move: delete the source volume after the move."),
    keep_volume: z.boolean().optional().describe("remove: only detach; keep the volume as unusedN."),
    digest: z.string().regex(/^[0-9a-f]{40}$/).optional().describe("Refuse if the config changed since this digest."),
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
    "Manages a NIC (net0, net1, ...) of a VM or container. action=add creates it (bridge default vmbr0, VM model default virtio, " +
    "MAC generated unless macaddr is given); action=update changes only the fields given and keeps the rest (and the MAC); " +
    "action=remove deletes it (the guest loses that network). VM fields: model, bridge, macaddr, tag (VLAN), firewall, rate (MB/s), " +
    "mtu, link_down. Container fields: name (eth0), bridge, macaddr, ip ('dhcp' or CIDR), gw, ip6, gw6, tag, firewall, rate, mtu. " +
    "On a running guest PVE hot-plugs NICs; anything it cannot is reported pending.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid,
    action: z.enum(["add", "update", "remove"]),
    net: z.string().regex(/^net\d+$/, "net0, net1, ...").describe("Interface key, e.g. net1."),
    ...where,
    bridge: z.string().optional(),
    model: z.enum(["virtio", "e1000", "e1000e", "rtl8139", "vmxnet3"]).optional().describe("VM NIC model."),
    macaddr: z.string().regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/).optional(),
    tag: z.number().int().min(1).max(4094).optional().describe("VLAN tag."),
    firewall: z.boolean().optional(),
    rate: z.number().positive().optional().describe("Rate limit in MB/s."),
    mtu: z.number().int().min(1).max(65520).optional(),
    link_down: z.boolean().optional().describe("VM: disconnect the link."),
    name: z.string().optional().describe("Container: interface name inside (default eth<N>)."),
    ip: z.string().optional().describe("Container: IPv4 CIDR, 'dhcp' or 'manual'."),
    gw: z.string().optional().describe("Container: IPv4 gateway."),
    ip6: z.string().optional().describe("Container: IPv6 CIDR, 'auto', 'dhcp' or 'manual'."),
    gw6: z.string().optional(),
    digest: z.string().regex(/^[0-9a-f]{40}$/).optional(),
  }),
  output: z.object({ ...guestRef, action: z.string(), net: z.string(), value: z.string().optional().describe("The NIC's config line afterwards."), pending: z.boolean() }),
});

export const guestCloudinit = defineTool({
  name: "guest_cloudinit",
  title: "Set a VM's cloud-init user, keys and network",
  description:
    "Sets cloud-init options of a VM and regenerates its cloud-init drive, so the guest picks them up at its next boot: ciuser, " +
    "cipassword, sshkeys (public keys, one per line), ipconfig (e.g. {ipconfig0: 'ip=10.0.0.50/24,gw=10.0.0.1'} or 'ip=dhcp'), " +
    "nameserver, searchdomain, ciupgrade. Typical after guest_clone from a cloud-init template. The VM needs a cloud-init drive " +
    "(e.g. ide2: local-lvm:cloudinit); without one the options are stored but nothing is generated. Containers have no cloud-init: " +
    "use guest_network and guest_config_update.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  mutating: true,
  input: z.object({
    vmid,
    node: nodeName.optional(),
    ciuser: z.string().optional(),
    cipassword: z.string().optional().describe("Password for ciuser (stored hashed by PVE)."),
    sshkeys: z.string().optional().describe("OpenSSH public keys, one per line."),
    ipconfig: z.record(z.string().regex(/^ipconfig\d+$/), z.string()).optional().describe("Per NIC: {\"ipconfig0\": \"ip=dhcp\"}."),
    nameserver: z.string().optional(),
    searchdomain: z.string().optional(),
    ciupgrade: z.boolean().optional().describe("Upgrade packages on first boot."),
    regenerate: z.boolean().default(true).describe("Regenerate the cloud-init drive now (default true)."),
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
    "Adds guests to a resource pool (action=add) or removes them (action=remove). A guest is in at most one pool: adding one that " +
    "is in another pool fails unless allow_move=true. Pools group guests for permissions and for backup jobs (pool=...). " +
    "Returns the pool's guests afterwards.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  mutating: true,
  input: z.object({
    action: z.enum(["add", "remove"]),
    poolid: z.string().min(1).describe("The pool, e.g. prod."),
    vmids: z.array(vmid).min(1),
    allow_move: z.boolean().optional().describe("add: take guests out of their current pool."),
  }),
  output: z.object({ poolid: z.string(), action: z.string(), vmids: z.array(z.number().int()), members: z.array(z.number().int()).describe("Guests in the pool afterwards.") }),
});

export const guestConsole = defineTool({
  name: "guest_console",
  title: "Open a VNC or terminal console ticket",
  description:
    "Starts a console proxy for a guest and returns a one-time ticket and port (valid for about 10 seconds): kind=vnc for the " +
    "graphical console (noVNC over the vncwebsocket endpoint; the answer has the websocket path and the VNC password), kind=term " +
    "for a text terminal (xterm.js; the guest must be running). Use when a human needs to look at or type into the guest's console.",
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
