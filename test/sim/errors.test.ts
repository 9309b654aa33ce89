import { request } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSimulator, type SimClient } from "./client.ts";

let c: SimClient;
beforeAll(async () => {
  c = await openSimulator();
});
afterAll(async () => {
  await c.close();
});

describe("reply envelope", () => {
  it("wraps data in {data} with the exact content type proxmox-api compares", async () => {
    const res = await c.call("GET", "/cluster/nextid");
    expect(res.contentType).toBe("application/json;charset=UTF-8");
    expect(res.headers.get("server")).toBe("pve-api-daemon/3.0");
    expect(res.headers.get("cache-control")).toBe("max-age=0");
    // PVE returns the id as a JSON string.
    expect(res.json).toEqual({ data: "103" });
  });

  it("leaves out a zero total, as PVE's formatter only adds a true one", async () => {
    const res = await c.call("GET", "/nodes/pve3/tasks");
    expect(res.text).toBe('{"data":[]}');
  });
});

describe("400 parameter verification", () => {
  it("reports a type error per parameter, path parameters included", async () => {
    const res = await c.call("GET", "/nodes/pve1/qemu/abc/status/current");
    expect(res.status).toBe(400);
    expect(res.statusText).toBe("Parameter verification failed.");
    expect(res.json).toEqual({ data: null, errors: { vmid: "type check ('integer') failed - got 'abc'" }, message: "Parameter verification failed.\n" });
  });

  it("refuses unknown parameters and reports every bad one at once", async () => {
    const res = await c.call("POST", "/nodes/pve1/qemu/100/status/stop", { form: { bogus: "1", timeout: "-5" } });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual({
      bogus: "property is not defined in schema and the schema does not allow additional properties",
      timeout: "value must have a minimum value of 0",
    });
  });

  it("names a missing required parameter, even for methods the simulator does not implement", async () => {
    const res = await c.call("POST", "/nodes/pve1/qemu", { form: { name: "new" } });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual({ vmid: "property is missing and it is not optional" });
  });

  it("checks enums with PVE's wording", async () => {
    const res = await c.call("GET", "/cluster/resources?type=vms");
    expect(res.json.errors).toEqual({ type: "value 'vms' does not have a value in the enumeration 'vm, storage, node, sdn'" });
  });

  it("checks formats, keeping the newline of the Perl message", async () => {
    const res = await c.call("GET", "/nodes/pve1/qemu/99/config");
    expect(res.json.errors).toEqual({ vmid: "invalid format - value does not look like a valid VM ID\n" });
  });

  it("checks booleans in PVE's 0/1 form", async () => {
    const res = await c.call("GET", "/nodes/pve1/qemu?full=yes");
    expect(res.json.errors).toEqual({ full: "type check ('boolean') failed - got 'yes'" });
    expect((await c.call("GET", "/nodes/pve1/qemu?full=1")).status).toBe(200);
  });

  it("validates property strings against their key schema", async () => {
    const res = await c.call("PUT", "/nodes/pve1/qemu/100/config", { form: { net0: "model=virtio,bridge=vmbr0,bogus=1" } });
    expect(res.json.errors).toEqual({ net0: "invalid format - invalid key in comma-separated list property: bogus\n" });
  });

  it("accepts JSON bodies and type-checks their values", async () => {
    const res = await c.call("POST", "/nodes/pve1/qemu/100/status/stop", { json: { timeout: "soon" } });
    expect(res.json.errors).toEqual({ timeout: "type check ('integer') failed - got 'soon'" });
  });

  it("refuses a body parameter that contradicts the URL", async () => {
    const res = await c.call("POST", "/nodes/pve1/qemu/100/status/stop", { form: { vmid: "101" } });
    expect(res.json.errors).toEqual({ vmid: "duplicate parameter (already defined in URI) with conflicting values!" });
  });
});

describe("501 not implemented", () => {
  it("answers an unknown path like PVE", async () => {
    const res = await c.call("GET", "/foo/bar");
    expect(res.status).toBe(501);
    expect(res.statusText).toBe("Method 'GET /foo/bar' not implemented");
    expect(res.json).toEqual({ data: null, message: "Method 'GET /foo/bar' not implemented" });
  });

  it("answers an unknown method on a known path like PVE", async () => {
    const res = await c.call("DELETE", "/version");
    expect(res.statusText).toBe("Method 'DELETE /version' not implemented");
  });

  it("says so when a real PVE method has no simulator handler, after validation passed", async () => {
    const res = await c.call("PUT", "/nodes/pve1/qemu/100/sendkey", { form: { key: "ctrl-alt-delete" } });
    expect(res.status).toBe(501);
    expect(res.json.message).toMatch(/^Method 'PUT \/nodes\/pve1\/qemu\/100\/sendkey' not simulated/);
  });

  it("refuses HTTP methods pveproxy does not know before authentication", async () => {
    const res = await c.call("PATCH", "/version", { auth: null });
    expect([res.status, res.statusText]).toEqual([501, "method 'PATCH' not available"]);
  });

  it("refuses a body on GET, after authentication", async () => {
    const status = await new Promise<[number, string]>((resolve, reject) => {
      const url = new URL(`${c.sim.url}/api2/json/version`);
      const req = request(
        { host: url.hostname, port: url.port, path: url.pathname, method: "GET", ca: c.sim.certPem, headers: { Authorization: c.sim.token.header, "Content-Length": "2" } },
        (res) => {
          res.resume();
          resolve([res.statusCode ?? 0, res.statusMessage ?? ""]);
        },
      );
      req.on("error", reject);
      req.end("{}");
    });
    expect(status).toEqual([501, "Unexpected content for method 'GET'"]);
  });
});

describe("403 permission check", () => {
  it("refuses a power action to a token with only audit privileges", async () => {
    const res = await c.call("POST", "/nodes/pve1/qemu/101/status/start", { auth: c.sim.readonlyToken.header });
    expect(res.status).toBe(403);
    expect(res.statusText).toBe("Permission check failed (/vms/101, VM.PowerMgmt)");
    expect(res.json).toEqual({ data: null, message: "Permission check failed (/vms/101, VM.PowerMgmt)\n" });
    expect(c.sim.state.guests.get(101)!.running).toBe(false);
  });

  it("lets the same token read", async () => {
    const res = await c.call("GET", "/nodes/pve1/qemu/101/status/current", { auth: c.sim.readonlyToken.header });
    expect(res.status).toBe(200);
    expect(res.json.data.status).toBe("stopped");
  });

  it("checks permissions before validating parameters, as rest_handler does", async () => {
    const res = await c.call("POST", "/nodes/pve1/qemu/101/status/start", { auth: c.sim.readonlyToken.header, form: { bogus: "1" } });
    expect(res.status).toBe(403);
  });

  it("keeps root-only options for root@pam, not for its tokens", async () => {
    const res = await c.call("POST", "/nodes/pve1/qemu/101/status/stop", { form: { skiplock: "1" } });
    expect(res.json.errors).toEqual({ skiplock: "Only root may use this option." });
  });
});
