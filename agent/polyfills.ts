import { webcrypto } from "node:crypto";

// Node 18 (PVE 8) has no global Web Crypto without a flag; jose and crypto.randomUUID need it.
if (!globalThis.crypto) Object.defineProperty(globalThis, "crypto", { value: webcrypto, configurable: true });
