/**
 * The simulator's TLS identity: a fresh self-signed certificate for 127.0.0.1 and localhost, like
 * the self-signed pve-ssl.pem a fresh PVE node serves, and its SHA-256 fingerprint in the form
 * PVE shows (upper-case hex bytes joined by ':').
 */
import { X509Certificate } from "node:crypto";
import { generate } from "selfsigned";

export interface Certificate {
  certPem: string;
  keyPem: string;
  publicKeyPem: string;
  fingerprint: string;
}

export async function createCertificate(): Promise<Certificate> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + 2 * 365 * 86400_000);
  const pems = await generate([{ name: "commonName", value: "127.0.0.1" }, { name: "organizationName", value: "PVE Cluster Node" }], {
    keySize: 2048,
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }, { type: 2, value: "localhost" }, { type: 7, ip: "::1" }] },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private, publicKeyPem: pems.public, fingerprint: new X509Certificate(pems.cert).fingerprint256 };
}
