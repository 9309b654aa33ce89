import { proxmoxApi } from "proxmox-api";
import { fetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSimulator, type SimClient } from "./client.ts";

let c: SimClient;
beforeAll(async () => {
  c = await openSimulator();
});
afterAll(async () => {
  await c.close();
});

describe("API token authentication", () => {
  it("accepts PVEAPIToken=USER@REALM!TOKENID=SECRET", async () => {
    const res = await c.call("GET", "/version");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ data: { version: "9.1.7", release: "9.1", repoid: "16b139a017452f16" } });
  });

  it("accepts the space-separated form pveproxy's header parser allows", async () => {
    const res = await c.call("GET", "/version", { auth: `PVEAPIToken ${c.sim.token.tokenid}=${c.sim.token.secret}` });
    expect(res.status).toBe(200);
  });

  it("refuses a wrong secret with a bare 401 'Authentication failed!'", async () => {
    const res = await c.call("GET", "/version", { auth: `PVEAPIToken=${c.sim.token.tokenid}=00000000-0000-0000-0000-000000000000` });
    expect(res.status).toBe(401);
    expect(res.statusText).toBe("Authentication failed!");
    expect(res.text).toBe("");
    expect(res.contentType).toBeNull();
  });

  it("refuses the ':'-separated form that only PBS accepts", async () => {
    const res = await c.call("GET", "/version", { auth: `PVEAPIToken=${c.sim.token.tokenid}:${c.sim.token.secret}` });
    expect([res.status, res.statusText]).toEqual([401, "Authentication failed!"]);
  });

  it("answers 401 'No ticket' without any credentials", async () => {
    const res = await c.call("GET", "/nodes", { auth: null });
    expect([res.status, res.statusText, res.text]).toEqual([401, "No ticket", ""]);
  });

  it("does not let an API token create tickets", async () => {
    const res = await c.call("POST", "/access/ticket", { form: { username: "root@pam", password: c.sim.password.password } });
    expect(res.status).toBe(403);
    expect(res.statusText).toBe("Permission check failed (URI '/access/ticket' not available with API token, need proper ticket.");
  });
});

describe("ticket authentication", () => {
  const login = async (password: string) => c.call("POST", "/access/ticket", { auth: null, form: { username: "root@pam", password } });

  it("logs in and returns ticket, CSRF token, username, cap and cluster name", async () => {
    const res = await login(c.sim.password.password);
    expect(res.status).toBe(200);
    const data = res.json.data;
    expect(data.username).toBe("root@pam");
    expect(data.ticket).toMatch(/^PVE:root@pam:[0-9A-F]{8}::[A-Za-z0-9+/=]+$/);
    expect(data.CSRFPreventionToken).toMatch(/^[0-9A-F]{8}:[A-Za-z0-9+/]{43}$/);
    expect(data.clustername).toBe("sim");
    expect(data.cap.vms["VM.PowerMgmt"]).toBe(1);
    expect(data.cap.nodes["Sys.Audit"]).toBe(1);
    expect(data.cap.dc).toEqual({ "Sys.Audit": 1, "Sys.Modify": 1, "SDN.Allocate": 1, "SDN.Audit": 1, "SDN.Use": 1 });
  });

  it("refuses a wrong password with PVE's JSON 401", async () => {
    const res = await login("wrong");
    expect(res.status).toBe(401);
    expect(res.statusText).toBe("authentication failure");
    expect(res.json).toEqual({ data: null, message: "authentication failure\n" });
  });

  it("reads with the cookie alone, and requires the CSRF token to write", async () => {
    const { ticket, CSRFPreventionToken } = (await login(c.sim.password.password)).json.data;
    const cookie = { cookie: `PVEAuthCookie=${ticket}` };

    const read = await c.call("GET", "/nodes/pve1/qemu/100/status/current", { auth: null, headers: cookie });
    expect(read.status).toBe(200);
    expect(read.json.data.status).toBe("running");

    const missing = await c.call("POST", "/nodes/pve1/qemu/101/status/start", { auth: null, headers: cookie });
    expect([missing.status, missing.statusText, missing.text]).toEqual([401, "Permission denied - invalid csrf token", ""]);

    const wrong = await c.call("POST", "/nodes/pve1/qemu/101/status/start", { auth: null, headers: { ...cookie, CSRFPreventionToken: "6B000000:AAAA" } });
    expect(wrong.status).toBe(401);

    const ok = await c.call("POST", "/nodes/pve1/qemu/105/status/start", { auth: null, headers: { ...cookie, CSRFPreventionToken } });
    expect(ok.status).toBe(200);
    expect(ok.json.data).toMatch(/^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmstart:105:root@pam:$/);
  });

  it("renews a ticket when it is passed as the password", async () => {
    const { ticket } = (await login(c.sim.password.password)).json.data;
    const renewed = await login(ticket);
    expect(renewed.status).toBe(200);
    expect(renewed.json.data.username).toBe("root@pam");
  });

  it("refuses a forged ticket", async () => {
    const res = await c.call("GET", "/version", { auth: null, headers: { cookie: "PVEAuthCookie=PVE:root@pam:6B000000::Zm9yZ2Vk" } });
    expect([res.status, res.statusText]).toEqual([401, "Authentication failed!"]);
  });
});

describe("the proxmox-api npm client", () => {
  const viaSimulator = (url: any, init: any) => fetch(url, { ...init, dispatcher: c.dispatcher });

  it("works with an API token", async () => {
    const api = proxmoxApi({ host: "127.0.0.1", port: c.sim.port, tokenID: c.sim.token.tokenid, tokenSecret: c.sim.token.secret, fetch: viaSimulator } as any);
    const nodes = await api.nodes.$get();
    expect(nodes.map((n) => n.node).sort()).toEqual(["pve1", "pve2", "pve3"]);
    const status = await api.nodes.$("pve1").qemu.$(100).status.current.$get();
    expect(status.name).toBe("web01");
  });

  it("works with a password login, including a POST that needs the CSRF token", async () => {
    const api = proxmoxApi({ host: "127.0.0.1", port: c.sim.port, username: "root@pam", password: c.sim.password.password, fetch: viaSimulator } as any);
    const resources = await api.cluster.resources.$get({ type: "vm" });
    expect(resources.some((r) => r.vmid === 100)).toBe(true);
    const upid = await api.nodes.$("pve2").lxc.$(201).status.reboot.$post();
    expect(upid).toMatch(/^UPID:pve2:.*:vzreboot:201:root@pam:$/);
  });

  it("surfaces PVE's error text for an unknown guest", async () => {
    const api = proxmoxApi({ host: "127.0.0.1", port: c.sim.port, tokenID: c.sim.token.tokenid, tokenSecret: c.sim.token.secret, fetch: viaSimulator } as any);
    await expect(api.nodes.$("pve1").qemu.$(999).config.$get()).rejects.toThrow(
      "return Error 500 Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist",
    );
  });
});
