// The "Practical Admin" policy, to be read top to bottom. Everything an admin does daily runs;
// only what destroys the host, the cluster, or access to them is refused, and every refusal says why.
//
// A rule is a record: a stable id (reported with each refusal), a reason written for the AI that sent
// the command, optionally the command names it looks at, and a matcher. Rules see every command the
// shell would run: after unwrapping sudo/env/timeout/xargs/bash -c/eval... (handoffs.ts), with quoting
// removed, the name stripped of its directory, paths resolved against the working directory and
// variables the same script assigns expanded (commands.ts). The first matching rule refuses.
// Before any rule, the walk itself refuses: parse-error, nesting-limit, too-complex, unsupported-syntax
// (a command the walk could not reach), and checkCommand refuses with policy-error if the policy fails.
//
// Known limits, i.e. what gets through:
// - Arguments only known at run time are judged by their known part ("$dir/" as "/", "$dir" as
//   nothing): `rm -rf "$(cat list)"`, `ls / | xargs rm -rf`, `read d; rm -rf "$d"` are allowed.
// - Code in other languages (python -c, perl -e, awk's system()) is not parsed; only secret paths
//   named in it are noticed, and fork bombs written in it are not recognised.
// - Script files already on disk (bash ./x.sh) are not read; files the same command writes first are.
// - ssh to another host, chroot into another root and commands inside guests (qm guest exec, pct exec)
//   are left to that system.
// - Scheduled code (crontab, files in /etc/cron.d, timers) and archives or packages unpacked over
//   system files (tar -x -C /) are not inspected.
// - Reading a parent directory recursively (tar czf x.tgz /etc/pve, grep -r x /etc) is allowed
//   although it includes secrets; naming a secret file, or a glob that covers one, is not.
// - Variables are flow-insensitive: a use before the script's first assignment is judged with the
//   values the script assigns, not the environment's.
import { parseArgs } from "./argv.ts";
import type { Command } from "./commands.ts";
import { deletions, pathsOf, reads, writes, type PathEffect } from "./effects.ts";
import { isGlob, isUnder, namesMatch, pathContains, pathMatches } from "./paths.ts";
import { hasUnknown, knownPart } from "./words.ts";

export interface RuleContext {
  /** Directory of the agent's own audit log. */
  auditLogDir: string;
}

export interface Rule {
  /** Stable identifier, reported with every refusal. */
  id: string;
  /** Why the command is refused, written for the AI that sent it. */
  reason: string;
  /** Kinds of Command the rule looks at (see Command.kind); default: calls. */
  kinds?: readonly Command["kind"][];
  /** Command names the rule looks at; "mkfs*" matches by prefix. Omit to look at every command. */
  commands?: readonly string[];
  /** Refuses when it returns true (the whole command matched) or the matching text. */
  when?: (cmd: Command, ctx: RuleContext) => boolean | string;
}

// ---- Protected places ----------------------------------------------------------------------------

/** Removing one of these recursively, a parent of one, or a glob covering one destroys the host. */
const SYSTEM_TREES = [
  "/", "/bin", "/boot", "/boot/efi", "/boot/grub", "/dev", "/etc", "/etc/ceph", "/etc/corosync", "/etc/network",
  "/etc/pve", "/etc/pve/nodes", "/etc/pve/priv", "/etc/ssh", "/home", "/lib", "/lib32", "/lib64", "/libx32",
  "/mnt/pve", "/opt", "/proc", "/root", "/root/.ssh", "/run", "/sbin", "/srv", "/sys", "/usr", "/usr/bin",
  "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/sbin", "/usr/share", "/var", "/var/lib", "/var/lib/ceph",
  "/var/lib/dpkg", "/var/lib/pve-cluster", "/var/lib/pve-manager", "/var/lib/vz", "/var/log",
];

/** Trees that hold data rather than the system: chmod/chown -R on them is the admin's business. */
const DATA_TREES = ["/home", "/mnt/pve", "/opt", "/srv", "/var/lib/vz", "/var/log"];

/** System programs and libraries: the package manager's to change. */
const SYSTEM_PROGRAMS = ["/bin/*", "/sbin/*", "/usr/bin/*", "/usr/sbin/*", "/lib/**", "/lib64/**", "/usr/lib/**", "/usr/lib64/**", "/usr/libexec/**"];

/** Files whose replacement breaks logins, privilege, booting or the cluster. appendOk: adding a line is routine. */
const UNWRITABLE: { path: string; appendOk?: boolean }[] = [
  { path: "/etc/passwd" }, { path: "/etc/shadow" }, { path: "/etc/group" }, { path: "/etc/gshadow" },
  { path: "/etc/sudoers" }, { path: "/etc/sudoers.d/**" }, { path: "/etc/pam.d/**" },
  { path: "/etc/corosync/**" }, { path: "/var/lib/pve-cluster/**" }, { path: "/boot/**" },
  { path: "/etc/fstab", appendOk: true }, { path: "/root/.ssh/authorized_keys", appendOk: true },
  ...SYSTEM_PROGRAMS.map((path) => ({ path })),
];

/** Files whose deletion breaks the host or its reachability (on top of UNWRITABLE and /etc/pve). */
const UNDELETABLE = [
  ...UNWRITABLE.map((file) => file.path),
  "/etc/hostname", "/etc/hosts", "/etc/network/interfaces", "/etc/ssh/sshd_config", "/etc/machine-id",
];

/** /etc/pve is the cluster's configuration; guest configurations in it are edited daily. */
const GUEST_CONFIGS = [
  "/etc/pve/qemu-server/*", "/etc/pve/lxc/*", "/etc/pve/nodes/*/qemu-server/*", "/etc/pve/nodes/*/lxc/*",
  "/etc/pve/firewall/[0-9]*.fw",
];
const GUEST_CONFIG_DIRS = ["/etc/pve/qemu-server", "/etc/pve/lxc", "/etc/pve/nodes/*/qemu-server", "/etc/pve/nodes/*/lxc", "/etc/pve/firewall"];

/** Secrets: password hashes, cluster keys and tokens, host and root private keys. */
const SECRETS = [
  "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/pve/priv/**", "/etc/pve/**/*.key",
  "/etc/ssh/ssh_host_*_key", "/root/.ssh/id_*",
];

/** Disks and volumes; writing to them directly destroys whatever they hold. */
const BLOCK_DEVICES = [
  "/dev/sd*", "/dev/hd*", "/dev/vd*", "/dev/xvd*", "/dev/nvme*", "/dev/mmcblk*", "/dev/mapper/*", "/dev/disk/**",
  "/dev/zd*", "/dev/zvol/**", "/dev/dm-*", "/dev/md*", "/dev/md/*", "/dev/rbd*", "/dev/pve/*", "/dev/bcache*",
  "/dev/cciss/*", "/dev/mem", "/dev/kmem", "/dev/port",
];

/** /dev entries that are not disks, for writes to /dev paths only partly known. */
const HARMLESS_DEVICES = /^\/dev\/(null|zero|full|u?random|stdout|stderr|stdin|tty\d*|pts(\/|$)|fd(\/|$)|shm(\/|$)|console|kmsg)/;

const HISTORY_FILES = ["/**/.bash_history", "/**/.zsh_history", "/**/.history", "/**/.sh_history", "/**/.ash_history", "/**/.zhistory"];

/** Login and audit trails other than the agent's own log (whose directory is a parameter). */
const SYSTEM_AUDIT_LOGS = ["/var/log/wtmp", "/var/log/btmp", "/var/log/lastlog", "/var/log/auth.log", "/var/log/audit/**"];

/** Packages without which the host is no longer a working Proxmox VE node. */
const CORE_PACKAGES = [
  "proxmox-ve", "pve-manager", "pve-cluster", "pve-qemu-kvm", "qemu-server", "pve-container", "pve-firewall",
  "pve-ha-manager", "libpve-common-perl", "libpve-storage-perl", "proxmox-kernel-helper", "proxmox-default-kernel",
  "corosync", "openssh-server", "systemd", "systemd-sysv", "udev", "libc6", "bash", "coreutils", "dpkg", "apt",
  "login", "passwd", "util-linux", "mount", "ifupdown2", "zfsutils-linux", "lvm2", "init",
];

/** Services whose stop, disable, mask or kill takes the node, the cluster or access to them down. */
const CORE_SERVICES = [
  { units: ["pve-cluster"], processes: ["pmxcfs"], reason: "stopping pve-cluster takes the cluster filesystem /etc/pve down: guest, storage and cluster configuration vanish and most PVE tools fail" },
  { units: ["corosync"], processes: ["corosync"], reason: "stopping corosync drops this node out of the cluster: quorum is lost and HA nodes fence themselves" },
  { units: ["pvedaemon"], processes: ["pvedaemon"], reason: "stopping pvedaemon stops the PVE API backend that the web interface and this agent rely on" },
  { units: ["pveproxy"], processes: ["pveproxy"], reason: "stopping pveproxy takes the web interface and the API on port 8006 offline" },
  { units: ["pvestatd"], processes: ["pvestatd"], reason: "stopping pvestatd stops guest, storage and node status updates across the cluster" },
  { units: ["ssh", "sshd"], processes: ["sshd"], reason: "stopping sshd cuts off remote shell access to the host" },
  { units: ["networking", "systemd-networkd"], processes: [], reason: "stopping networking takes the host off the network" },
  { units: ["watchdog-mux"], processes: ["watchdog-mux"], reason: "stopping watchdog-mux while HA is active makes this node fence (hard-reset) itself" },
];

const FIREWALL_SERVICES = ["pve-firewall", "proxmox-firewall"];

/** Interpreters whose own code the policy does not parse; only secret paths inside it are noticed. */
const INTERPRETERS = ["python", "python2", "python3", "perl", "ruby", "php", "node", "nodejs", "lua", "awk", "gawk", "mawk", "tclsh"];
const SECRET_IN_CODE = /\/etc\/g?shadow\b|\/etc\/pve\/priv\b|\/etc\/ssh\/ssh_host_\w+_key\b(?!\.pub)|\/root\/\.ssh\/id_\w+\b(?!\.pub)/;

// ---- The rules -----------------------------------------------------------------------------------

export const RULES: readonly Rule[] = [
  // What the policy cannot see.
  {
    id: "pipe-to-shell",
    kinds: ["script"],
    reason: "running downloaded or decoded text as shell code (curl | sh, base64 -d | bash, bash <(wget ...)) hides what actually runs; download it to a file, inspect it, then run the file",
    when: fedFromNetworkOrDecoder,
  },
  {
    id: "dynamic-command",
    reason: "the command name is only known at run time (a variable, $(...) or glob in the command position), so the policy cannot tell what would run; write the command out literally",
    when: (cmd) => hasUnknown(cmd.name) || (cmd.name !== "[" && isGlob(cmd.name)),
  },
  {
    id: "dynamic-command",
    kinds: ["script"],
    reason: "this shell code is assembled at run time (bash -c \"$x\", eval \"$(...)\", echo \"$x\" | sh), so the policy cannot tell what would run; write the commands out literally",
    when: (cmd) => cmd.script?.dynamic === true,
  },
  {
    id: "fork-bomb",
    kinds: ["function"],
    reason: "a function that calls itself concurrently (:(){ :|:& };:) multiplies processes until the host stops responding",
    when: (cmd) => cmd.forkBomb === true,
  },

  // Deleting the system.
  {
    id: "delete-system-tree",
    commands: ["rm"],
    reason: "--no-preserve-root exists only to let rm delete /, which destroys the host",
    when: (cmd) => cmd.args.includes("--no-preserve-root"),
  },
  {
    id: "delete-system-tree",
    reason: "recursively deleting / or a system directory (/etc, /usr, /boot, /var, /root, /etc/pve, /var/lib/pve-cluster ...) or a glob covering one destroys the host; delete the specific files you mean",
    when: (cmd) => deletions(cmd).some((d) => (d.recursive && SYSTEM_TREES.some((tree) => pathContains(d.path, tree))) || emptiesSystemTree(d)),
  },
  {
    id: "delete-system-file",
    reason: "deleting account, boot, cluster or access files (/etc/passwd, /etc/shadow, /boot/vmlinuz-*, /etc/pve/storage.cfg, /etc/corosync, /root/.ssh/authorized_keys ...) breaks the host or locks everyone out",
    when: (cmd) => deletions(cmd).some((d) => UNDELETABLE.some((file) => (d.recursive ? pathContains : pathMatches)(d.path, file)) || deletesClusterConfig(d)),
  },

  // Wiping disks.
  {
    id: "wipe-block-device",
    kinds: ["call", "bare"],
    reason: "writing straight onto a disk or volume (> /dev/sda, dd of=/dev/nvme0n1, cp/tee onto /dev/...) destroys the data and filesystems on it",
    when: (cmd) => writes(cmd).some(isDiskWrite) && withRedirects(cmd),
  },
  {
    id: "wipe-block-device",
    commands: ["mkfs*", "mke2fs", "mkswap", "mkdosfs", "mkntfs", "mkexfatfs", "blkdiscard", "shred"],
    reason: "formatting, discarding or shredding a disk or volume destroys everything on it",
    when: (cmd) => cmd.args.some((arg) => isDiskArg(cmd, arg)),
  },
  {
    id: "wipe-block-device",
    commands: ["wipefs"],
    reason: "wipefs -a erases filesystem, RAID and partition-table signatures, making the disk's data unreachable; wipefs without -a only lists them",
    when: (cmd) => hasOption(cmd, ["-a", "--all", "-o", "--offset"]) && cmd.args.some((arg) => isDiskArg(cmd, arg)),
  },
  {
    id: "wipe-block-device",
    commands: ["sgdisk", "sfdisk", "fdisk", "gdisk", "cfdisk", "cgdisk", "parted"],
    reason: "changing a disk's partition table can destroy every filesystem on it; listing (fdisk -l, sgdisk -p, parted DEV print) is fine",
    when: (cmd) => !onlyListsPartitions(cmd) && cmd.args.some((arg) => isDiskArg(cmd, arg)),
  },
  {
    id: "wipe-block-device",
    reason: "this erases a disk or its ZFS/RAID/LUKS metadata (zpool labelclear, mdadm --zero-superblock, cryptsetup luksFormat/erase, nvme format/sanitize, hdparm --security-erase, badblocks -w, dmsetup remove_all)",
    when: erasesDiskMetadata,
  },

  // The root pool and volumes.
  {
    id: "destroy-root-pool",
    commands: ["zpool"],
    reason: "destroying the root pool rpool destroys the host's own filesystem and every guest disk on it",
    when: (cmd) => ["destroy", "export"].includes(parseArgs(cmd.args).operands[0] ?? "") && parseArgs(cmd.args).operands.slice(1).some((pool) => namesMatch(pool, "rpool")),
  },
  {
    id: "destroy-root-pool",
    commands: ["zfs"],
    reason: "destroying rpool, the root filesystem rpool/ROOT or the guest-disk parent rpool/data wipes the host or every guest on it; destroying a snapshot (dataset@snap) or a single guest disk is fine",
    when: destroysRootDataset,
  },
  {
    id: "destroy-root-pool",
    commands: ["lvremove", "vgremove"],
    reason: "removing the volume group pve or its root, swap or data volumes destroys the host or every guest disk on it; removing a single guest volume (pve/vm-100-disk-0) is fine",
    when: removesRootVolume,
  },

  // Power.
  {
    id: "host-power",
    commands: ["shutdown", "reboot", "halt", "poweroff"],
    reason: "shutting down, rebooting or halting the host stops every guest on it and takes this agent offline",
    when: (cmd) => !hasOption(cmd, ["-c", "--help"]),
  },
  {
    id: "host-power",
    commands: ["init", "telinit"],
    reason: "switching to runlevel 0, 6 or single-user halts, reboots or isolates the host",
    when: (cmd) => ["0", "6", "1", "s", "S", "single"].includes(cmd.args[0] ?? ""),
  },
  {
    id: "host-power",
    commands: ["systemctl"],
    reason: "this powers off, reboots, suspends or isolates the host (systemctl poweroff/reboot/halt/kexec/rescue, isolate, start reboot.target ...)",
    when: systemctlPower,
  },
  {
    id: "host-power",
    kinds: ["call", "bare"],
    reason: "writing to /proc/sysrq-trigger can reboot, power off or crash the kernel immediately",
    when: (cmd) => writes(cmd).some((w) => w.path === "/proc/sysrq-trigger") && withRedirects(cmd),
  },
  {
    id: "host-power",
    commands: ["kexec"],
    reason: "kexec -e replaces the running kernel at once, like a reboot without shutdown",
    when: (cmd) => hasOption(cmd, ["-e", "--exec"]),
  },
  {
    id: "host-power",
    commands: ["kill", "killall5"],
    reason: "killing PID 1 or every process (kill -9 -1, killall5) brings the host down",
    when: killsEverything,
  },
  {
    id: "host-power",
    commands: ["busctl", "dbus-send", "gdbus", "qdbus"],
    reason: "this asks systemd or logind over D-Bus to power off, reboot or halt the host",
    when: (cmd) => /\b(PowerOff|Reboot|Halt|KExec|SoftReboot|Suspend|Hibernate)\b/.test(cmd.args.join(" ")) && /login1|systemd1/.test(cmd.args.join(" ")),
  },
  {
    id: "host-power",
    commands: ["pkill", "killall"],
    reason: "killing every process of root stops sshd, pmxcfs, the PVE daemons and every guest",
    when: (cmd) => {
      const { values } = parseArgs(cmd.args, { valued: ["-u", "--user", "--euid", "-U", "--uid"] });
      return ["-u", "--user", "--euid", "-U", "--uid"].some((option) => (values.get(option) ?? []).some((user) => /^(root|0)$/.test(user)));
    },
  },
  {
    id: "host-power",
    commands: ["pvesh"],
    reason: "this reboots or shuts down a node through the API (pvesh create /nodes/NODE/status --command reboot)",
    when: (cmd) => pveshCall(cmd, ["create", "post"], /^\/?nodes\/[^/]+\/status\/?$/) && /^(reboot|shutdown)$/.test(pveOption(cmd.args, "command") ?? ""),
  },
  {
    id: "host-power",
    commands: ["ipmitool"],
    reason: "this powers off or resets the machine through its BMC",
    when: (cmd) => cmd.args.some((arg, index) => arg === "power" && /^(off|cycle|reset|soft)$/.test(cmd.args[index + 1] ?? "")),
  },

  // Services the node, the cluster and access depend on.
  ...CORE_SERVICES.map(({ units, processes, reason }): Rule => ({
    id: "stop-core-service",
    reason: `${reason}; restarting it (systemctl restart) is fine`,
    when: (cmd) => stopsService(cmd, units, processes),
  })),
  {
    id: "unmount-system",
    commands: ["umount", "fusermount", "fusermount3"],
    reason: "unmounting /etc/pve, /, /boot, /usr or /var (or everything with -a) takes the cluster filesystem or the system itself away",
    when: unmountsSystem,
  },
  {
    id: "network-down",
    commands: ["ip", "ifdown", "ifconfig", "nmcli"],
    reason: "taking a host interface down or flushing its addresses or routes cuts the host off the network; guest tap/veth/fw interfaces are fine",
    when: takesNetworkDown,
  },

  // The firewall.
  {
    id: "firewall-flush",
    commands: ["iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy", "iptables-nft", "ip6tables-nft"],
    reason: "flushing the firewall (-F), setting INPUT/OUTPUT policy to DROP, or inserting a catch-all DROP either opens the host or locks everyone out; list rules with -L or manage them with pve-firewall",
    when: iptablesLockout,
  },
  {
    id: "firewall-flush",
    commands: ["nft"],
    reason: "nft flush ruleset removes every firewall rule on the host, including the PVE firewall's",
    when: (cmd) => /\bflush\s+ruleset\b/.test(cmd.args.join(" ")),
  },
  {
    id: "firewall-flush",
    commands: ["pve-firewall"],
    reason: "stopping the PVE firewall removes the host's and guests' firewall rules; use pve-firewall restart or compile",
    when: (cmd) => cmd.args[0] === "stop",
  },
  {
    id: "firewall-flush",
    commands: ["pvesh"],
    reason: "disabling the cluster or node firewall through the API removes the host's and guests' firewall rules",
    when: (cmd) => pveshCall(cmd, ["set", "put"], /^\/?(cluster|nodes\/[^/]+)\/firewall\/options\/?$/) && pveOption(cmd.args, "enable") === "0",
  },
  {
    id: "firewall-flush",
    commands: ["ufw"],
    reason: "ufw reset deletes every firewall rule",
    when: (cmd) => cmd.args.includes("reset"),
  },
  {
    id: "firewall-flush",
    reason: "stopping, disabling or masking the PVE firewall service removes the host's and guests' firewall rules; restarting it is fine",
    when: (cmd) => stopsService(cmd, FIREWALL_SERVICES, []),
  },

  // Access to the root account.
  {
    id: "lock-root-account",
    commands: ["pveum", "pvesh"],
    reason: "deleting, disabling, expiring or re-passwording root@pam locks the admin out of Proxmox VE",
    when: locksRootAtPam,
  },
  {
    id: "lock-root-account",
    commands: ["userdel", "deluser", "passwd", "usermod", "chage", "chsh", "chpasswd"],
    reason: "deleting, locking, expiring, renaming, re-passwording or changing the shell of root locks the admin out of the host",
    when: locksRootAccount,
  },

  // Secrets.
  {
    id: "read-secrets",
    kinds: ["call", "bare"],
    reason: "this would read password hashes or private keys (/etc/shadow, /etc/pve/priv/*, *.key, ssh host or root keys) into the conversation; reading guest configs, /etc/passwd or /etc/group is fine",
    when: (cmd) => reads(cmd).some((r) => isSecret(r.path)) && withRedirects(cmd),
  },
  {
    id: "read-secrets",
    commands: INTERPRETERS,
    reason: "this program's code names a secret file (/etc/shadow, /etc/pve/priv, a private key); reading it would put password hashes or keys into the conversation",
    when: (cmd) => cmd.args.some((arg) => SECRET_IN_CODE.test(arg)),
  },
  {
    id: "read-secrets",
    commands: ["getent"],
    reason: "getent shadow prints password hashes",
    when: (cmd) => /^g?shadow$/.test(cmd.args[0] ?? ""),
  },

  // Overwriting what the system trusts.
  {
    id: "overwrite-system-file",
    kinds: ["call", "bare"],
    reason: "overwriting account, sudo, PAM or cluster files (/etc/passwd, /etc/shadow, /etc/sudoers, /etc/pve/*.cfg, /etc/corosync ...) can lock everyone out or break the cluster; use useradd/usermod/visudo/pvesh, and edit guest configs in /etc/pve/qemu-server or /etc/pve/lxc freely",
    when: (cmd) => writes(cmd).some(overwritesSystemFile) && withRedirects(cmd),
  },
  {
    id: "system-tree-permissions",
    commands: ["chmod", "chown", "chgrp", "setfacl", "chattr", "chcon"],
    reason: "recursively changing owners or permissions of / or a system directory breaks sudo, ssh, PAM and services",
    when: (cmd) => hasOption(cmd, ["-R", "--recursive"]) && parseArgs(cmd.args).operands.some((arg) =>
      pathsOf(cmd, arg).some((path) => SYSTEM_TREES.some((tree) => !DATA_TREES.includes(tree) && pathContains(path, tree)))),
  },

  // Covering tracks.
  {
    id: "wipe-history",
    kinds: ["call", "bare"],
    reason: "clearing or disabling shell history hides what was done on the host",
    when: (cmd) => wipesHistory(cmd) && withRedirects(cmd),
  },
  {
    id: "wipe-audit-log",
    kinds: ["call", "bare"],
    reason: "deleting, truncating or rewriting the agent's audit log or the system's login and audit trails hides what was done on the host; journalctl --vacuum-* and logrotate are fine",
    when: (cmd, ctx) => tampersWithAuditLog(cmd, ctx) && withRedirects(cmd),
  },
  {
    id: "wipe-audit-log",
    commands: ["auditctl"],
    reason: "disabling kernel auditing or deleting its rules hides what is done on the host",
    when: (cmd) => cmd.args.includes("-D") || cmd.args.some((arg, index) => arg === "-e" && cmd.args[index + 1] === "0"),
  },

  // The Proxmox VE installation itself.
  {
    id: "remove-core-package",
    commands: ["apt", "apt-get", "aptitude", "dpkg"],
    reason: "removing proxmox-ve, pve-manager, corosync, openssh-server, systemd or other core packages leaves a broken node",
    when: removesCorePackage,
  },
];

// ---- Matchers ------------------------------------------------------------------------------------

/** The command as the decision shows it: with its redirections, which are often what matched. */
function withRedirects(cmd: Command): string {
  return cmd.kind === "bare" ? cmd.text : [cmd.text, ...cmd.redirects.map((r) => r.text)].join(" ");
}

function hasOption(cmd: Command, options: string[]): boolean {
  const { flags } = parseArgs(cmd.args);
  return options.some((option) => flags.has(option));
}

/** Every command whose output reaches `cmd`, through pipes, <(...), $(...) and nested wrappers. */
function feeders(cmd: Command): Command[] {
  const seen = new Set<Command>();
  const queue = [...cmd.stdin, ...cmd.sources];
  while (queue.length > 0) {
    const next = queue.shift() as Command;
    if (seen.has(next)) continue;
    seen.add(next);
    queue.push(...next.stdin, ...next.sources);
  }
  return [...seen];
}

const FETCHERS = new Set(["curl", "wget", "fetch", "aria2c", "http", "https", "xh", "nc", "ncat", "netcat", "socat", "tftp", "ftp", "lftp"]);

function isFetcherOrDecoder(cmd: Command): boolean {
  if (cmd.kind !== "call") return false;
  if (FETCHERS.has(cmd.name)) return true;
  const options = (...names: string[]) => hasOption(cmd, names);
  switch (cmd.name) {
    case "base64":
    case "base32":
    case "basenc":
      return options("-d", "--decode", "-D");
    case "xxd":
      return options("-r", "--revert") || cmd.args.includes("-revert");
    case "openssl":
      return cmd.args[0] === "s_client" || cmd.args.includes("-d");
    case "gpg":
      return options("-d", "--decrypt");
    case "uudecode":
    case "rev":
      return true;
    default:
      return false;
  }
}

function fedFromNetworkOrDecoder(cmd: Command): boolean | string {
  const source = feeders(cmd).find(isFetcherOrDecoder);
  if (source !== undefined) return cmd.text.includes(source.text) ? cmd.text : `${source.text} | ${cmd.text}`;
  const network = /^\/dev\/(tcp|udp)\//;
  return network.test(cmd.script?.path ?? "") || cmd.redirects.some((r) => r.op === "<" && network.test(r.target));
}

/** /lib/* or /usr/bin/?*: everything directly inside a system directory. */
function emptiesSystemTree(d: PathEffect): boolean {
  const slash = d.path.lastIndexOf("/");
  const [parent, name] = [d.path.slice(0, slash) || "/", d.path.slice(slash + 1)];
  if (!/^[*?]+$/.test(name)) return false;
  return SYSTEM_TREES.some((tree) => pathMatches(parent, tree) && (d.recursive || !DATA_TREES.includes(tree)));
}

function deletesClusterConfig(d: PathEffect): boolean {
  if (!isUnder(d.path, "/etc/pve")) return false;
  // Deleting one guest config is what removing a guest does; wildcards or whole directories are not.
  return !GUEST_CONFIGS.some((config) => pathMatches(d.path, config)) || isGlob(d.path);
}

function overwritesSystemFile(w: PathEffect): boolean {
  if (UNWRITABLE.some((file) => pathMatches(w.path, file.path) && !(w.append && file.appendOk))) return true;
  if (!isUnder(w.path, "/etc/pve")) return false;
  return ![...GUEST_CONFIGS, ...GUEST_CONFIG_DIRS].some((config) => pathMatches(w.path, config));
}

function isBlockDevice(path: string, uncertain: boolean): boolean {
  if (BLOCK_DEVICES.some((device) => pathMatches(path, device))) return true;
  // "/dev/$disk" with disk unknown: it may be any disk.
  return uncertain && (path === "/dev" || isUnder(path, "/dev")) && !HARMLESS_DEVICES.test(path);
}

function isDiskWrite(w: PathEffect): boolean {
  return isBlockDevice(w.path, w.uncertain);
}

/** An argument of a disk tool that is a disk, or is only known at run time. */
function isDiskArg(cmd: Command, arg: string): boolean {
  const value = arg.replace(/^[a-z]+=/, ""); // of=/dev/sda, device=...
  if (hasUnknown(value) && knownPart(value) === "") return true;
  return pathsOf(cmd, value).some((path) => isBlockDevice(path, hasUnknown(value)));
}

const LISTING_OPTIONS = ["-l", "--list", "-x", "--list-details", "-p", "--print", "-i", "--info", "-v", "--verify",
  "-d", "--dump", "-J", "--json", "-s", "--show-size", "-g", "--show-geometry", "-V", "-L", "--list-types", "-O",
  "--print-mbr", "-P", "--pretend", "-b", "--backup", "-F", "--list-free"];

function onlyListsPartitions(cmd: Command): boolean {
  const { flags, operands } = parseArgs(cmd.args, { valued: ["-b", "--backup", "-i", "--info", "-u", "--unit", "-s", "--script"] });
  if (cmd.name === "parted") {
    if (flags.has("-l") || flags.has("--list")) return true;
    const words = operands.slice(1).filter((word, index, all) => word !== "unit" && all[index - 1] !== "unit");
    return words.length > 0 && words.every((word) => /^(print|p|help|version)$/.test(word));
  }
  if (cmd.name === "sfdisk" || cmd.name === "sgdisk") return [...flags].some((flag) => LISTING_OPTIONS.includes(flag)) && !hasOption(cmd, ["-Z", "--zap-all", "-z", "--zap", "-o", "--clear", "-n", "--new", "-d", "--delete"]) || flags.size > 0 && [...flags].every((flag) => LISTING_OPTIONS.includes(flag));
  return [...flags].some((flag) => ["-l", "--list", "-x", "--list-details"].includes(flag));
}

function erasesDiskMetadata(cmd: Command): boolean {
  const [first, second] = cmd.args;
  switch (cmd.name) {
    case "zpool":
      return first === "labelclear";
    case "mdadm":
      return cmd.args.includes("--zero-superblock");
    case "cryptsetup":
      return cmd.args.some((arg) => /^(luksFormat|erase|luksErase)$/.test(arg));
    case "nvme":
      return first === "format" || first === "sanitize";
    case "hdparm":
      return cmd.args.some((arg) => /^--(security-erase(-enhanced)?|trim-sector-ranges|write-sector)$/.test(arg));
    case "sg_format":
    case "sg_sanitize":
      return true;
    case "badblocks":
      return hasOption(cmd, ["-w"]);
    case "dmsetup":
      return first === "remove_all" || (first === "remove" && /^pve-(root|swap|data)$/.test(second ?? ""));
    default:
      return false;
  }
}

function destroysRootDataset(cmd: Command): boolean {
  const { flags, operands } = parseArgs(cmd.args);
  if (operands[0] !== "destroy" || flags.has("-n")) return false;
  return operands.slice(1).some((dataset) => {
    if (/[@#]/.test(dataset)) return false; // snapshots and bookmarks
    const name = dataset.replace(/\/+$/, "");
    return namesMatch(name.split("/")[0], "rpool") && (!name.includes("/") || /^[^/]+\/(ROOT|data|var-lib-vz)(\/|$)/.test(name) && !/^[^/]+\/data\/./.test(name));
  });
}

function removesRootVolume(cmd: Command): boolean {
  return parseArgs(cmd.args).operands.some((arg) => {
    const volume = arg.replace(/^\/dev\/mapper\/pve-/, "pve/").replace(/^\/dev\//, "").replace(/\/+$/, "");
    return volume === "pve" || /^pve\/(root|swap|data)$/.test(volume);
  });
}

const SYSTEMCTL_VALUED = ["-t", "--type", "-p", "--property", "-s", "--signal", "--kill-whom", "--kill-value", "-n",
  "--lines", "-o", "--output", "-H", "--host", "-M", "--machine", "--root", "--image", "--job-mode", "--state", "--what",
  "--reboot-argument", "--timestamp", "--message", "--when", "--preset-mode", "--drop-in", "--boot-loader-entry",
  "--boot-loader-menu", "--check-inhibitors"];

function systemctl(cmd: Command): { verb: string; units: string[] } {
  const [verb = "", ...units] = parseArgs(cmd.args, { valued: SYSTEMCTL_VALUED }).operands;
  return { verb, units: units.map((unit) => unit.replace(/\.service$/, "")) };
}

const POWER_VERBS = new Set(["poweroff", "reboot", "halt", "kexec", "soft-reboot", "rescue", "emergency", "suspend",
  "hibernate", "hybrid-sleep", "suspend-then-hibernate", "isolate"]);
const POWER_TARGETS = ["poweroff.target", "reboot.target", "halt.target", "kexec.target", "rescue.target",
  "emergency.target", "shutdown.target", "soft-reboot.target", "ctrl-alt-del.target", "suspend.target", "hibernate.target"];

function systemctlPower(cmd: Command): boolean {
  const { verb, units } = systemctl(cmd);
  if (POWER_VERBS.has(verb)) return verb !== "isolate" || !units.every((unit) => /^(multi-user|graphical|default)\.target$/.test(unit));
  return /^(start|restart|reload-or-restart|try-restart)$/.test(verb) && units.some((unit) => POWER_TARGETS.some((target) => namesMatch(unit, target)));
}

function killsEverything(cmd: Command): boolean {
  if (cmd.name === "killall5") return true;
  let args = cmd.args;
  if (args[0] === "-s" || args[0] === "-n") args = args.slice(2);
  else if (/^-/.test(args[0] ?? "") && args[0] !== "--") args = args.slice(1); // the signal: kill -1 1234 sends HUP
  return args.some((arg) => arg === "1" || arg === "-1");
}

const STOP_VERBS = new Set(["stop", "disable", "mask", "kill", "freeze", "clean"]);

function stopsService(cmd: Command, units: string[], processes: string[]): boolean {
  if (cmd.kind !== "call") return false;
  const isUnit = (name: string) => units.some((unit) => namesMatch(name.replace(/\.service$/, ""), unit));
  const isProcess = (name: string) => [...processes, ...units].some((process) => namesMatch(name, process));
  const [first = "", second = ""] = cmd.args;
  switch (cmd.name) {
    case "systemctl": {
      const { verb, units: named } = systemctl(cmd);
      return STOP_VERBS.has(verb) && named.some(isUnit);
    }
    case "service":
    case "invoke-rc.d":
      return isUnit(first) && /^(stop|force-stop)$/.test(second);
    case "update-rc.d":
      return isUnit(first) && /^(disable|remove)$/.test(second);
    case "killall":
      return parseArgs(cmd.args, { valued: ["-s", "--signal", "-u", "--user", "-o", "--older-than", "-y", "--younger-than"] }).operands.some(isProcess)
        || (hasOption(cmd, ["-r", "--regexp"]) && cmd.args.some((arg) => !arg.startsWith("-") && [...processes, ...units].some((p) => safeRegExp(arg).test(p))));
    case "pkill": {
      const { operands } = parseArgs(cmd.args, { valued: ["-s", "--signal", "-u", "--euid", "-U", "--uid", "-g", "--pgroup", "-G", "--group", "-P", "--parent", "-t", "--terminal", "--ns", "--nslist", "-F", "--pidfile"] });
      return operands.some((pattern) => [...processes, ...units].some((p) => safeRegExp(pattern).test(p)));
    }
    case "kill":
      return cmd.sources.some((source) => /^(pidof|pgrep)$/.test(source.name) && source.args.some((arg) => !arg.startsWith("-") && isProcess(arg)));
    default:
      return isUnit(cmd.name) && /^(stop|force-stop)$/.test(first); // /etc/init.d/pve-cluster stop
  }
}

function safeRegExp(pattern: string): RegExp {
  try {
    return new RegExp(knownPart(pattern));
  } catch {
    return new RegExp(knownPart(pattern).replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  }
}

const SYSTEM_MOUNTS = ["/", "/etc/pve", "/boot", "/boot/efi", "/usr", "/var", "/proc", "/sys", "/dev", "/run"];

function unmountsSystem(cmd: Command): boolean {
  if (hasOption(cmd, ["-a", "--all"])) return true;
  return parseArgs(cmd.args, { valued: ["-t", "--types", "-O", "--test-opts", "-N", "--namespace"] }).operands
    .some((arg) => pathsOf(cmd, arg).some((path) => SYSTEM_MOUNTS.includes(path)));
}

const GUEST_INTERFACE = /^(tap|veth|fwbr|fwpr|fwln|vmtab)/;

function takesNetworkDown(cmd: Command): boolean {
  const args = cmd.args;
  const hostInterface = (name: string | undefined) => name === undefined || !GUEST_INTERFACE.test(name);
  switch (cmd.name) {
    case "ifdown":
      return hasOption(cmd, ["-a", "--all"]) || parseArgs(args).operands.some(hostInterface);
    case "ifconfig":
      return args.includes("down") && hostInterface(args[0]);
    case "nmcli":
      return /\bnetworking off\b/.test(args.join(" "));
    default: {
      const words = args.filter((arg) => !arg.startsWith("-"));
      const [object = "", verb = ""] = words;
      const devIndex = words.indexOf("dev");
      const device = devIndex !== -1 ? words[devIndex + 1] : words[2];
      const abbreviates = (word: string, full: string) => word.length > 0 && full.startsWith(word);
      if (abbreviates(object, "link") && abbreviates(verb, "set")) return words.includes("down") && hostInterface(device);
      if (abbreviates(object, "address") && abbreviates(verb, "flush")) return hostInterface(device);
      if (abbreviates(object, "route") && abbreviates(verb, "flush")) return true;
      return abbreviates(object, "route") && abbreviates(verb, "delete") && words.includes("default");
    }
  }
}

const MATCH_CRITERIA = ["-s", "--source", "-d", "--destination", "-p", "--protocol", "-i", "--in-interface", "-m",
  "--match", "--dport", "--sport", "!", "--src-range", "--dst-range"];

const BUILTIN_CHAINS = /^(INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING|PVEFW-.*)$/;

function iptablesLockout(cmd: Command): boolean {
  const args = cmd.args;
  // Flushing everything, a built-in chain or the PVE firewall's chains; a chain of one's own (f2b-sshd) is fine.
  const flush = args.findIndex((arg) => arg === "-F" || arg === "--flush" || (/^-[a-zA-Z]*F$/.test(arg) && !arg.startsWith("--")));
  if (flush !== -1) {
    const chain = args[flush + 1];
    if (chain === undefined || chain.startsWith("-") || BUILTIN_CHAINS.test(chain)) return true;
  }
  const policy = args.findIndex((arg) => arg === "-P" || arg === "--policy");
  if (policy !== -1 && /^(INPUT|OUTPUT)$/.test(args[policy + 1] ?? "") && /^(DROP|REJECT)$/.test(args[policy + 2] ?? "")) return true;
  const insert = args.findIndex((arg) => arg === "-I" || arg === "--insert");
  const target = args.findIndex((arg) => arg === "-j" || arg === "--jump");
  return insert !== -1 && args[insert + 1] === "INPUT" && /^(DROP|REJECT)$/.test(args[target + 1] ?? "") && !args.some((arg) => MATCH_CRITERIA.includes(arg));
}

/** A PVE CLI option in any of its spellings: --name value, -name value, --name=value. */
function pveOption(args: readonly string[], name: string): string | undefined {
  for (let index = 0; index < args.length; index++) {
    const match = new RegExp(`^--?${name}(?:=(.*))?$`, "s").exec(args[index]);
    if (match !== null) return match[1] ?? args[index + 1] ?? "";
  }
  return undefined;
}

function pveshCall(cmd: Command, verbs: string[], path: RegExp): boolean {
  const [verb = "", target = ""] = cmd.args;
  return verbs.includes(verb) && path.test(target);
}

function locksRootAtPam(cmd: Command): boolean {
  const root = /^root@pam$/;
  const operands = cmd.args.filter((arg) => !arg.startsWith("-"));
  if (cmd.name === "pvesh") {
    if (pveshCall(cmd, ["delete"], /^\/?access\/users\/root@pam\/?$/)) return true;
    if (pveshCall(cmd, ["set", "put"], /^\/?access\/users\/root@pam\/?$/)) return disablesUser(cmd.args);
    return pveshCall(cmd, ["create", "set", "put", "post"], /^\/?access\/password\/?$/) && root.test(pveOption(cmd.args, "userid") ?? "");
  }
  const [object, verb, user] = operands;
  if (object === "userdel" || object === "passwd") return root.test(verb ?? "");
  if (object === "usermod") return root.test(verb ?? "") && disablesUser(cmd.args);
  if (object !== "user" || !root.test(user ?? "")) return false;
  return verb === "delete" || (verb === "modify" && disablesUser(cmd.args));
}

function disablesUser(args: readonly string[]): boolean {
  const enable = pveOption(args, "enable");
  const expire = pveOption(args, "expire");
  return (enable !== undefined && enable !== "1") || (expire !== undefined && expire !== "0");
}

const NO_LOGIN_SHELL = /(nologin|false)$/;

function locksRootAccount(cmd: Command): boolean {
  const isRoot = (user: string | undefined) => user === "root";
  switch (cmd.name) {
    case "userdel":
    case "deluser":
      return parseArgs(cmd.args).operands.some(isRoot);
    case "passwd": {
      const { flags, operands } = parseArgs(cmd.args, { valued: ["-r", "--repository", "-R", "--root", "-P", "--prefix", "-n", "--mindays", "-x", "--maxdays", "-w", "--warndays", "-i", "--inactive"] });
      return (operands.length === 0 || operands.some(isRoot)) && !flags.has("-S") && !flags.has("--status") && !flags.has("-a");
    }
    case "usermod": {
      const { flags, values, operands } = parseArgs(cmd.args, { valued: ["-c", "--comment", "-d", "--home", "-e", "--expiredate", "-f", "--inactive", "-g", "--gid", "-G", "--groups", "-l", "--login", "-p", "--password", "-s", "--shell", "-u", "--uid", "-R", "--root", "-P", "--prefix", "-Z", "--selinux-user"] });
      if (!operands.some(isRoot)) return false;
      const shell = [...(values.get("-s") ?? []), ...(values.get("--shell") ?? [])];
      const expiry = [...(values.get("-e") ?? []), ...(values.get("--expiredate") ?? [])];
      return ["-L", "--lock", "-l", "--login", "-p", "--password", "-u", "--uid"].some((option) => flags.has(option))
        || shell.some((value) => NO_LOGIN_SHELL.test(value)) || expiry.some((value) => value !== "" && value !== "-1");
    }
    case "chage": {
      const { values, operands } = parseArgs(cmd.args, { valued: ["-d", "--lastday", "-E", "--expiredate", "-I", "--inactive", "-m", "--mindays", "-M", "--maxdays", "-W", "--warndays", "-R", "--root", "-P", "--prefix"] });
      const expiry = [...(values.get("-E") ?? []), ...(values.get("--expiredate") ?? [])];
      return operands.some(isRoot) && expiry.some((value) => value !== "-1");
    }
    case "chsh": {
      const { values, operands } = parseArgs(cmd.args, { valued: ["-s", "--shell", "-R", "--root"] });
      const shell = [...(values.get("-s") ?? []), ...(values.get("--shell") ?? [])];
      return (operands.length === 0 || operands.some(isRoot)) && shell.some((value) => NO_LOGIN_SHELL.test(value));
    }
    case "chpasswd": {
      const texts = [...(cmd.stdinTexts ?? []), ...feeders(cmd).flatMap((feeder) => feeder.args)];
      return texts.some((text) => /(^|\s)root:/m.test(text));
    }
    default:
      return false;
  }
}

function isSecret(path: string): boolean {
  if (path.endsWith(".pub")) return false;
  return SECRETS.some((secret) => pathMatches(path, secret));
}

function isHistoryFile(path: string): boolean {
  return HISTORY_FILES.some((file) => pathMatches(path, file));
}

function wipesHistory(cmd: Command): boolean {
  const historyVariable = ({ name, value }: { name: string; value: string }) =>
    name === "HISTFILE" || (/^HIST(FILE)?SIZE$/.test(name) && /^0*$/.test(value)) || (name === "HISTIGNORE" && value.includes("*"));
  if (cmd.assigns.some(historyVariable)) return true;
  if (cmd.name === "history") return hasOption(cmd, ["-c", "-d"]);
  if (cmd.name === "unset") return cmd.args.includes("HISTFILE");
  if (cmd.name === "set") return cmd.args.some((arg, index) => arg === "+o" && cmd.args[index + 1] === "history");
  return deletions(cmd).some((d) => isHistoryFile(d.path)) || writes(cmd).some((w) => !w.append && isHistoryFile(w.path));
}

function tampersWithAuditLog(cmd: Command, ctx: RuleContext): boolean {
  const auditLog = `${ctx.auditLogDir.replace(/\/+$/, "")}/**`;
  const removed = deletions(cmd).some((d) =>
    [auditLog, ...SYSTEM_AUDIT_LOGS].some((log) => (d.recursive ? pathContains : pathMatches)(d.path, log)));
  const rewritten = writes(cmd).some((w) =>
    pathMatches(w.path, auditLog) || (!w.append && SYSTEM_AUDIT_LOGS.some((log) => pathMatches(w.path, log))));
  const shredded = cmd.name === "shred" && writes(cmd).some((w) => isUnder(w.path, "/var/log"));
  return removed || rewritten || shredded;
}

function removesCorePackage(cmd: Command): boolean {
  const { flags, operands } = parseArgs(cmd.args, { valued: ["-o", "--option", "-c", "--config-file", "-t", "--target-release", "--root", "--admindir", "--instdir"] });
  const packageName = (arg: string) => arg.replace(/[:=].*$/, "");
  const isCore = (arg: string) => CORE_PACKAGES.some((core) => namesMatch(packageName(arg), core));
  if (cmd.name === "dpkg") {
    return ["-r", "--remove", "-P", "--purge"].some((option) => flags.has(option)) && operands.some(isCore);
  }
  const [verb = "", ...packages] = operands;
  if (/^(remove|purge|autoremove|autopurge)$/.test(verb)) return packages.some(isCore);
  // apt install pkg- removes pkg.
  return /^(install|upgrade|full-upgrade|dist-upgrade)$/.test(verb) && packages.some((arg) => arg.endsWith("-") && isCore(arg.slice(0, -1)));
}
