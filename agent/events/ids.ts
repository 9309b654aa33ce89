import { createHash, randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * A ULID-shaped event id: 10 characters of milliseconds (sorts by time) and 16 of randomness, or of
 * a hash of `stableKey` so that an event observed twice (after an agent restart) keeps its id and
 * receivers can drop the repeat.
 */
export function eventId(time: Date, stableKey?: string): string {
  const tail = stableKey === undefined ? randomBytes(10) : createHash("sha256").update(stableKey).digest().subarray(0, 10);
  return encodeTime(time.getTime()) + encodeBytes(tail);
}

function encodeTime(ms: number): string {
  let n = Math.max(0, Math.floor(ms));
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[n % 32] + out;
    n = Math.floor(n / 32);
  }
  return out;
}

/** 10 bytes (80 bits) as 16 base-32 characters. */
function encodeBytes(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}
