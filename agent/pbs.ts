import { ToolError } from "../shared/errors.ts";
import type { PbsEndpointConfig } from "./config.ts";
import { PveClient } from "./pve.ts";

/** The Proxmox Backup Servers of the agent config, by name; each a PveClient speaking PBS's dialect. */
export class PbsClients {
  private readonly clients: Map<string, PveClient>;

  constructor(configs: PbsEndpointConfig[]) {
    this.clients = new Map(configs.map((cfg) => [cfg.name, new PveClient(cfg, { product: "PBS" })]));
  }

  names(): string[] {
    return [...this.clients.keys()];
  }

  /** The named server, or the only/first one when no name is given. */
  get(name?: string): PveClient {
    if (this.clients.size === 0) {
      throw new ToolError("invalid_arguments", "no Proxmox Backup Server is configured for this agent: add a `pbs` entry (name, url, token_id, token_secret, fingerprint or ca_file) to its config");
    }
    const client = name === undefined ? this.clients.values().next().value : this.clients.get(name);
    if (!client) throw new ToolError("invalid_arguments", `no Proxmox Backup Server named '${name}' is configured; known: ${this.names().join(", ")}`);
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}
