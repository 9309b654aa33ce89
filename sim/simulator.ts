/**
 * A Proxmox VE 9 API simulator over HTTPS: a seeded three-node cluster "sim" answering as node pve1,
 * with PVE's authentication, parameter validation (generated from the PVE API schema), permission
 * checks, proxying to other nodes, tasks and error shapes. Used by tests and as the sandbox PVE of
 * `npm start`.
 *
 * @example
 * const sim = await startSimulator({ taskDurationMs: 50 });
 * const res = await fetch(`${sim.url}/api2/json/version`, {
 *   headers: { Authorization: sim.token.header },
 *   dispatcher: new Agent({ connect: { ca: sim.certPem } }),
 * });
 * await sim.close();
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { pveCatalog } from "../shared/pve-schema/pve.ts";
import { createAuthority } from "./auth.ts";
import { createCertificate } from "./certificate.ts";
import type { PveVersion, Sim } from "./context.ts";
import { createDispatcher, type Mutation } from "./dispatch.ts";
import type { AccessModel } from "./permissions.ts";
import { createHttpsServer } from "./server.ts";
import { epoch, findNode, seedState, type SimState } from "./state.ts";
import { createTaskRunner } from "./tasks.ts";

export type { Mutation } from "./dispatch.ts";

const optionsSchema = z.object({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(0),
  /** How long every task runs before it stops with its result. */
  taskDurationMs: z.number().int().min(0).default(300),
  /** pveproxy delays each 401 by 3000 ms; 0 by default so tests stay fast. */
  unauthorizedDelayMs: z.number().int().min(0).default(0),
});
export type SimulatorOptions = z.input<typeof optionsSchema>;

export interface ApiToken {
  /** USER@REALM!TOKENID */
  tokenid: string;
  /** Lower-case UUID, as PVE generates token secrets. */
  secret: string;
  /** The complete Authorization header value. */
  header: string;
}

export interface Simulator {
  /** https://HOST:PORT, without the /api2/json base path. */
  url: string;
  port: number;
  certPem: string;
  /** SHA-256 of the certificate, upper-case hex bytes joined by ':' as PVE shows it. */
  fingerprint: string;
  /** root@pam!mcp, without privilege separation: every privilege. */
  token: ApiToken;
  /** readonly@pve!ro: PVEAuditor on / (Sys.Audit, VM.Audit, Datastore.Audit, ...), nothing else. */
  readonlyToken: ApiToken;
  password: { username: "root@pam"; password: string };
  /** The live cluster model; tests may read and change it. */
  state: SimState;
  /** Every authenticated non-GET API call, in arrival order. */
  mutations: Mutation[];
  /** Makes a node unreachable (calls proxied to it fail with 595) or reachable again. */
  setNodeOnline(node: string, online: boolean): void;
  close(): Promise<void>;
}

/** The PVE release the API schema was dumped from (pve-manager 9.1.7, commit 16b139a0). */
const pveVersion: PveVersion = { version: "9.1.7", release: "9.1", repoid: "16b139a017452f16" };

function token(tokenid: string): ApiToken {
  const secret = randomUUID();
  return { tokenid, secret, header: `PVEAPIToken=${tokenid}=${secret}` };
}

function accessModel(root: ApiToken, readonly: ApiToken, password: string): AccessModel {
  return {
    users: {
      "root@pam": { enabled: true, password, tokens: { mcp: { secret: root.secret, privsep: false } } },
      "readonly@pve": { enabled: true, tokens: { ro: { secret: readonly.secret, privsep: true } } },
    },
    acl: [
      { path: "/", authid: "readonly@pve", role: "PVEAuditor", propagate: true },
      { path: "/", authid: readonly.tokenid, role: "PVEAuditor", propagate: true },
    ],
  };
}

function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const options = optionsSchema.parse(opts);
  const cert = await createCertificate();
  const rootToken = token("root@pam!mcp");
  const readonlyToken = token("readonly@pve!ro");
  const password = randomBytes(12).toString("base64url");
  const access = accessModel(rootToken, readonlyToken, password);
  const state = seedState(epoch());
  findNode(state, state.localNode)!.sslFingerprint = cert.fingerprint;
  const tasks = createTaskRunner(options.taskDurationMs);
  // Tickets are signed with the node's TLS key; PVE uses a separate cluster-wide authkey.
  const auth = createAuthority(access, { privateKeyPem: cert.keyPem, publicKeyPem: cert.publicKeyPem, csrfSecret: randomBytes(32) });
  const sim: Sim = { state, tasks, access, auth, catalog: pveCatalog(), version: pveVersion };
  const mutations: Mutation[] = [];
  const dispatch = createDispatcher(sim, { unauthorizedDelayMs: options.unauthorizedDelayMs, onMutation: (m) => mutations.push(m) });
  const server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, dispatch);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `https://${urlHost(options.host)}:${port}`,
    port,
    certPem: cert.certPem,
    fingerprint: cert.fingerprint,
    token: rootToken,
    readonlyToken,
    password: { username: "root@pam", password },
    state,
    mutations,
    setNodeOnline(name, online) {
      const node = findNode(state, name);
      if (!node) throw new Error(`unknown node '${name}' (the simulated nodes are ${state.nodes.map((n) => n.name).join(", ")})`);
      if (name === state.localNode && !online) throw new Error(`${name} answers the API itself and cannot be taken offline`);
      node.online = online;
    },
    async close() {
      tasks.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
