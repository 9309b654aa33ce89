/**
 * The privileges of the PVE access model, shared by the simulator (role definitions, the pve-priv
 * format) and the agent (explaining what a token may do).
 */

/** Every privilege PVE knows: $privgroups in src/PVE/AccessControl.pm, plus Permissions.Modify. */
export const allPrivileges = [
  "VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.HWType",
  "VM.Config.Options", "VM.Allocate", "VM.Clone", "VM.GuestAgent.Unrestricted", "VM.Migrate",
  "VM.Replicate", "VM.Snapshot", "VM.Snapshot.Rollback", "VM.Config.CDROM", "VM.Config.Cloudinit",
  "VM.Console", "VM.Backup", "VM.GuestAgent.FileRead", "VM.GuestAgent.FileSystemMgmt",
  "VM.GuestAgent.FileWrite", "VM.PowerMgmt", "VM.Audit", "VM.GuestAgent.Audit",
  "Sys.PowerMgmt", "Sys.Modify", "Sys.Incoming", "Sys.AccessNetwork", "Sys.Console", "Sys.Syslog", "Sys.Audit",
  "Datastore.Allocate", "Datastore.AllocateTemplate", "Datastore.AllocateSpace", "Datastore.Audit",
  "SDN.Allocate", "SDN.Audit", "SDN.Use",
  "Realm.Allocate", "User.Modify", "Group.Allocate", "Realm.AllocateUser",
  "Pool.Allocate", "Pool.Audit",
  "Mapping.Modify", "Mapping.Use", "Mapping.Audit",
  "Permissions.Modify",
] as const;
