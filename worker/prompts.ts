/** Prompts for common workflows: each names the tools to use, in PVE's own words. */
export interface PromptDef {
  name: string;
  description: string;
  arguments: Array<{ name: string; description: string; required: boolean }>;
  text: (args: Record<string, string>) => string;
}

export const prompts: PromptDef[] = [
  {
    name: "diagnose_guest_start",
    description: "Find out why a VM or container will not start, and propose a fix.",
    arguments: [{ name: "vmid", description: "The guest that will not start", required: true }],
    text: ({ vmid }) =>
      `Guest ${vmid} on our Proxmox cluster will not start. Find out why before changing anything:\n` +
      `1. guest_status for ${vmid}: its node, state, and any lock (a leftover backup or migrate lock blocks a start).\n` +
      `2. task_info with action "list" and vmid ${vmid}, errors only: read the log of the last failed start with action "log".\n` +
      `3. guest_info with action "config" and "pending": disks on storages that are missing or full, a passthrough device, too much memory.\n` +
      `4. storage_info with action "list" and node_info with action "status" for the guest's node: storage active and not full, enough free memory.\n` +
      `5. cluster_status: the node online and the cluster quorate.\n` +
      `Then explain the cause in one paragraph and propose the smallest fix. Ask before running any write tool.`,
  },
  {
    name: "plan_node_upgrade",
    description: "Plan a safe package upgrade of one node, with what must be moved or stopped first.",
    arguments: [{ name: "node", description: "The node to upgrade", required: true }],
    text: ({ node }) =>
      `Plan a safe upgrade of node ${node}; do not change anything yet.\n` +
      `1. node_info with action "updates" for ${node}: the pending packages; call out kernel, pve-manager, qemu-server, corosync and ceph.\n` +
      `2. cluster_status and ha_info with action "status": quorum, and whether ${node} going down keeps it.\n` +
      `3. guest_list with node ${node}: the running guests; for each, whether it can migrate online (guest_migrate) or needs a shutdown, and HA-managed ones.\n` +
      `4. backup_info with action "list": a recent backup of each of those guests.\n` +
      `Write the plan as ordered steps (migrations, the upgrade command for host_exec, the reboot if a new kernel comes, the checks after), with the risks.`,
  },
  {
    name: "backup_coverage",
    description: "Check that every guest has a recent backup and is covered by a backup job.",
    arguments: [{ name: "max_age_days", description: "How old the newest backup may be (default 7)", required: false }],
    text: ({ max_age_days }) =>
      `Check backup coverage of every guest in the cluster (a backup older than ${max_age_days || "7"} days counts as missing).\n` +
      `1. guest_list: all guests (skip templates).\n` +
      `2. backup_info with action "jobs": which guests each job covers (all, a vmid list, a pool), and its schedule.\n` +
      `3. backup_info with action "list" on each backup storage (storage_info with action "list" shows which hold backups): the newest backup per vmid.\n` +
      `4. If a Proxmox Backup Server is configured, pbs_info with action "snapshots" too.\n` +
      `Answer with a table: vmid, name, covered by job (yes/no), newest backup, verdict; then the gaps and how to close them.`,
  },
];
