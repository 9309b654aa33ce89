/** Moved to shared/pve-schema/ (the agent validates raw API calls with it too); kept for older imports. */
export * from "../shared/pve-schema/schema.ts";
