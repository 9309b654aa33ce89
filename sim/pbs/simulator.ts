/**
 * A Proxmox Backup Server 4 API simulator over HTTPS: node "pbs1" with the datastores of model.ts,
 * PBS API-token authentication, proxmox-schema-style validation (the PBS API dump translated for the
 * shared PVE validator, see schema-import.ts), PBS roles and ACLs, worker tasks and PBS's error
 * shapes. Used by the PBS tool tests.
 *
 * @example
 * const pbs = await startPbsSimulator({ taskDurationMs: 50 });
 * const res = await fetch(`${pbs.url}/api2/json/admin/datastore`, {
 *   headers: { Authorization: pbs.token.header },
 *   dispatcher: new Agent({ connect: { ca: pbs.certPem } }),
 * });
 * await pbs.close();
 */
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createCatalog } from "../../shared/pve-schema/catalog.ts";
import { createCertificate } from "../certificate.ts";
import type { AccessModel } from "../permissions.ts";
import { createHttpsServer } from "../server.ts";
import dump from "./pbs-api.json" with { type: "json" };
import { createPbsDispatcher } from "./dispatch.ts";
import { seedPbs, type PbsModel } from "./model.ts";
import type { PbsSim } from "./routes.ts";
import { createPbsTaskRunner, type PbsTaskRunner } from "./tasks.ts";

export interface PbsSimulatorOptions {
  host?: string;
  port?: number;
  /** How long every task runs before it stops with its result. */
  taskDurationMs?: number;
}

export interface PbsToken {
  /** USER@REALM!TOKENID */
  tokenid: string;
  secret: string;
  /** The complete Authorization header value. */
  header: string;
}

export interface PbsSimulator {
  url: string;
  port: number;
  certPem: string;
  /** SHA-256 of the certificate, upper-case hex bytes joined by ':'. */
  fingerprint: string;
  /** root@pam!mcp with the Admin role on / (PBS tokens only get what their own ACL grants). */
  token: PbsToken;
  /** audit@pbs!ro with DatastoreAudit on /datastore: may list, not verify or prune. */
  readonlyToken: PbsToken;
  model: PbsModel;
  tasks: PbsTaskRunner;
  close(): Promise<void>;
}

/** pbs-api-types acl.rs: the privileges and built-in roles. */
const pbsPrivileges = [
  "Sys.Audit", "Sys.Modify", "Sys.PowerManagement", "Sys.Console", "Datastore.Audit", "Datastore.Allocate", "Datastore.Modify",
  "Datastore.Read", "Datastore.Verify", "Datastore.Backup", "Datastore.Prune", "Permissions.Modify", "Remote.Audit", "Remote.Modify",
  "Remote.Read", "Tape.Audit", "Tape.Modify", "Tape.Read", "Tape.Write", "Realm.Allocate",
] as const;
const pbsRoles: Record<string, readonly string[]> = {
  Admin: pbsPrivileges,
  Audit: ["Sys.Audit", "Datastore.Audit", "Remote.Audit", "Tape.Audit"],
  NoAccess: [],
  DatastoreAdmin: ["Datastore.Audit", "Datastore.Modify", "Datastore.Read", "Datastore.Verify", "Datastore.Backup", "Datastore.Prune"],
  DatastoreReader: ["Datastore.Audit", "Datastore.Read", "Datastore.Verify"],
  DatastoreBackup: ["Datastore.Backup"],
  DatastorePowerUser: ["Datastore.Prune", "Datastore.Backup"],
  DatastoreAudit: ["Datastore.Audit"],
};

function token(tokenid: string): PbsToken {
  const secret = randomUUID();
  return { tokenid, secret, header: `PBSAPIToken=${tokenid}:${secret}` };
}

function accessModel(root: PbsToken, readonly: PbsToken): AccessModel {
  return {
    users: {
      "root@pam": { enabled: true, tokens: { mcp: { secret: root.secret, privsep: true } } },
      "audit@pbs": { enabled: true, tokens: { ro: { secret: readonly.secret, privsep: true } } },
    },
    acl: [
      { path: "/", authid: root.tokenid, role: "Admin", propagate: true },
      { path: "/datastore", authid: "audit@pbs", role: "DatastoreAudit", propagate: true },
      { path: "/datastore", authid: readonly.tokenid, role: "DatastoreAudit", propagate: true },
    ],
    roles: pbsRoles,
    superuserPrivileges: pbsPrivileges,
  };
}

export async function startPbsSimulator(opts: PbsSimulatorOptions = {}): Promise<PbsSimulator> {
  const host = opts.host ?? "127.0.0.1";
  const cert = await createCertificate();
  const rootToken = token("root@pam!mcp");
  const readonlyToken = token("audit@pbs!ro");
  const now = Math.floor(Date.now() / 1000);
  const tasks = createPbsTaskRunner("pbs1", now - 86400 * 41, opts.taskDurationMs ?? 300);
  const sim: PbsSim = {
    model: seedPbs(now, tasks),
    tasks,
    access: accessModel(rootToken, readonlyToken),
    version: { version: "4.0.15", release: "4.0", repoid: "7e3a2b1c9d8f6e5a" },
  };
  const server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, createPbsDispatcher(sim, createCatalog(dump)));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    certPem: cert.certPem,
    fingerprint: cert.fingerprint,
    token: rootToken,
    readonlyToken,
    model: sim.model,
    tasks,
    async close() {
      tasks.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
