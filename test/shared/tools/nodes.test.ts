import { describe, expect, it } from "vitest";
import { pveCatalog } from "../../../shared/pve-schema/pve.ts";
import { pveServices } from "../../../shared/tools/nodes.ts";

describe("node_service", () => {
  it("offers exactly the services PVE 9's schema accepts, for every service action", () => {
    const catalog = pveCatalog();
    for (const action of ["start", "stop", "restart", "reload", "state"]) {
      const method = action === "state" ? "GET" : "POST";
      const endpoint = catalog.byTemplate(method, `/nodes/{node}/services/{service}/${action}`);
      const properties = endpoint?.parameters.properties as Record<string, { enum?: string[] }> | undefined;
      expect(properties?.service.enum, action).toEqual([...pveServices]);
      if (method === "POST") expect(endpoint, action).toMatchObject({ returns_upid: true, permissions: { check: ["perm", "/nodes/{node}", ["Sys.Modify"]] } });
    }
  });
});
