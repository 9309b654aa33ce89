import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pveCatalog } from "../../shared/pve-schema/pve.ts";
import { normalizeLegacyFormats, validateParams } from "../../shared/pve-schema/schema.ts";
import { openSimulator, type SimClient } from "./client.ts";

const catalog = pveCatalog();
const paramsOf = (method: "GET" | "POST" | "PUT" | "DELETE", path: string) => catalog.byTemplate(method, path)!.parameters;

describe("catalog", () => {
  it("holds every PVE 9 endpoint of the schema", () => {
    expect(catalog.endpoints.length).toBe(649);
    expect(catalog.byTemplate("POST", "/nodes/{node}/qemu/{vmid}/status/start")).toMatchObject({ returns_upid: true, proxyto: "node", protected: true });
  });

  it("matches templates and collects path parameters", () => {
    const m = catalog.match("GET", "//nodes/pve1/qemu/100/status/current/");
    expect(m?.endpoint.path).toBe("/nodes/{node}/qemu/{vmid}/status/current");
    expect(m?.uriParams).toEqual({ node: "pve1", vmid: "100" });
    expect(catalog.match("PATCH", "/version")).toBeUndefined();
  });

  it("keeps a storage volume id with slashes in one parameter, like pve-storage's fragmentDelimiter", () => {
    const m = catalog.match("GET", "/nodes/pve1/storage/local/content/local:iso/debian-13.iso");
    expect(m?.endpoint.path).toBe("/nodes/{node}/storage/{storage}/content/{volume}");
    expect(m?.uriParams.volume).toBe("local:iso/debian-13.iso");
  });
});

describe("validateParams (PVE::JSONSchema port)", () => {
  const qemuConfig = paramsOf("POST", "/nodes/{node}/qemu/{vmid}/config");

  it("knows numbered keys up to PVE's limits", () => {
    expect(validateParams({ node: "pve1", vmid: "100", net31: "virtio,bridge=vmbr0" }, qemuConfig)).toBeUndefined();
    expect(validateParams({ node: "pve1", vmid: "100", net32: "virtio" }, qemuConfig)).toEqual({
      net32: "property is not defined in schema and the schema does not allow additional properties",
    });
  });

  it("checks 'requires' between parameters", () => {
    const errors = validateParams({ username: "root@pam", password: "x", path: "/vms" }, paramsOf("POST", "/access/ticket"));
    expect(errors).toEqual({ privs: "missing property required by 'path'" });
  });

  it("checks every element of a -list format", () => {
    const errors = validateParams({ vms: "100,abc" }, paramsOf("POST", "/nodes/{node}/startall"));
    expect(errors).toEqual({ node: "property is missing and it is not optional", vms: "invalid format - value does not look like a valid VM ID\n" });
  });

  it("matches Perl patterns, anchored", () => {
    const schema = paramsOf("GET", "/access/permissions");
    expect(validateParams({ userid: "root@pam!mcp" }, schema)).toBeUndefined();
    expect(validateParams({ userid: "root" }, schema)).toEqual({ userid: "value does not match the regex pattern" });
  });

  it("checks maxLength and numeric bounds", () => {
    const ticket = paramsOf("POST", "/access/ticket");
    expect(validateParams({ username: "u".repeat(65), password: "x" }, ticket)).toEqual({ username: "value may only be 64 characters long" });
    const tasks = paramsOf("GET", "/nodes/{node}/tasks");
    expect(validateParams({ node: "pve1", start: "-1" }, tasks)).toEqual({ start: "value must have a minimum value of 0" });
  });

  it("turns repeated form keys into a list for -list formats, as RESTHandler does", () => {
    const params: Record<string, unknown> = { node: "pve1", vms: ["100", "101"] };
    normalizeLegacyFormats(params, paramsOf("POST", "/nodes/{node}/startall"));
    expect(params.vms).toBe("100,101");
  });

  it("reports a repeated key for a scalar parameter as Perl's ARRAY", () => {
    const errors = validateParams({ node: "pve1", vmid: ["100", "101"] }, paramsOf("GET", "/nodes/{node}/qemu/{vmid}/config"));
    expect(errors).toEqual({ vmid: "type check ('integer') failed - got ARRAY" });
  });
});

describe("every endpoint of the schema", () => {
  let c: SimClient;
  beforeAll(async () => {
    c = await openSimulator({ taskDurationMs: 10 });
  });
  afterAll(async () => {
    await c.close();
  });

  const sample: Record<string, string> = { node: "pve1", vmid: "100", storage: "local", upid: "x", userid: "root@pam", realm: "pam" };

  it("answers with a PVE status and never a simulator crash", async () => {
    for (const e of catalog.endpoints) {
      const path = e.path.replace(/\{([\w-]+)\}/g, (_, name: string) => sample[name] ?? "x1");
      const res = await c.call(e.method, path);
      expect([200, 400, 403, 500, 501], `${e.method} ${path}: ${res.text}`).toContain(res.status);
      expect(res.contentType, `${e.method} ${path}`).toBe("application/json;charset=UTF-8");
      expect(res.text, `${e.method} ${path}`).not.toMatch(/TypeError|ReferenceError|undefined is not|Cannot read/);
    }
  }, 60_000);
});
