/**
 * The PVE 9 API catalog, from the trimmed dump next to this file. Both the simulator (request
 * validation) and the agent (the raw API tools, privilege explanations) use it.
 */
import dump from "./pve-api.json" with { type: "json" };
import { createCatalog, type Catalog } from "./catalog.ts";

/**
 * pve-storage's API2/Storage/Status.pm mounts the Content subclass with `fragmentDelimiter => ''`
 * because volume IDs contain slashes; it is the only such mount in PVE.
 */
const wholeRestPrefixes = ["/nodes/{node}/storage/{storage}/content"];

let catalog: Catalog | undefined;

/** The PVE catalog, indexed once per process. */
export function pveCatalog(): Catalog {
  catalog ??= createCatalog(dump, { wholeRestPrefixes });
  return catalog;
}
