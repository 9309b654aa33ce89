/** Moved to shared/pve-schema/ (the agent validates raw API calls with it too); kept for older imports. */
export * from "../shared/pve-schema/catalog.ts";
export { pveCatalog as loadCatalog } from "../shared/pve-schema/pve.ts";
