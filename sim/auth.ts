/**
 * Authentication as pveproxy does it: PVE::HTTPServer::auth_handler (pve-manager), the ticket and
 * CSRF token code of PVE::Ticket (pve-common) and PVE::AccessControl (pve-access-control).
 *
 * - API token: `Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET`. PVE's header parser takes
 *   "PVEAPIToken" followed by '=' or a space, and splits token id and secret at the last '='; the
 *   ':'-separated form PBS uses is not accepted by PVE (it yields "Authentication failed!").
 * - Ticket: cookie `PVEAuthCookie` (or the same key in the Authorization header), an RSA-signed
 *   "PVE:<user>:<hex time>::<base64 signature>" valid for two hours; non-GET calls also need the
 *   `CSRFPreventionToken` header. API tokens skip the CSRF check.
 * Failures are a bare 401 whose status text is the reason ("No ticket", "Authentication failed!",
 * "Permission denied - invalid csrf token") and whose body is empty: the JSON formatter has no
 * login page, so pveproxy sends an HTTP::Response without content.
 */
import { createHmac, createSign, createVerify, timingSafeEqual } from "node:crypto";
import { PveError } from "./errors.ts";
import { splitTokenId, type AccessModel } from "./permissions.ts";
import { epoch } from "./state.ts";

/** A refusal before the API method runs; rendered as a bare 401 with `message` as status text. */
export class AuthFailure extends Error {}

export interface AuthKeys {
  /** PEM RSA key pair that signs and verifies tickets (pveproxy uses /etc/pve/authkey.key). */
  privateKeyPem: string;
  publicKeyPem: string;
  /** HMAC secret for CSRF tokens (derived from /etc/pve/pve-www.key in PVE). */
  csrfSecret: Buffer;
}

export interface AuthResult {
  /** The authenticated user or token id; undefined for calls that need no login. */
  authid?: string;
  /** An API token header was present (pveproxy refuses such calls on endpoints with allowtoken 0). */
  apiToken: boolean;
}

export interface AuthRequest {
  method: string;
  /** Path below /api2/json, e.g. "/access/ticket". */
  relPath: string;
  header(name: string): string | undefined;
}

export interface TicketReply {
  username: string;
  ticket: string;
  CSRFPreventionToken: string;
}

export interface Authority {
  authenticate(req: AuthRequest): AuthResult;
  /** POST /access/ticket: password or a still valid ticket of the same user (ticket renewal). */
  login(username: string, password: string): TicketReply;
}

const ticketLifetime = 2 * 3600; // $ticket_lifetime in PVE::AccessControl
const gracePeriod = 5 * 60; // $auth_graceperiod

const hex8 = (n: number): string => n.toString(16).toUpperCase().padStart(8, "0");

/** URI::Escape::uri_unescape: %XX only, '+' stays as it is. */
function uriUnescape(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** PVE::APIServer::Formatter::extract_auth_value */
export function extractAuthValue(header: string | undefined, key: string): string | undefined {
  if (!header) return undefined;
  const m = new RegExp(`(?:^|\\s)${key}(?:=| )([^;]*)`).exec(header);
  return m && m[1] ? uriUnescape(m[1]) : undefined;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Calls pveproxy serves without a login (auth_handler's $require_auth = 0 list). */
function needsAuth(method: string, relPath: string): boolean {
  const open =
    (relPath === "/access/domains" && method === "GET") ||
    (relPath === "/access/ticket" && (method === "GET" || method === "POST")) ||
    (relPath === "/access/vncticket" && method === "POST") ||
    (relPath === "/access/openid/login" && method === "POST") ||
    (relPath === "/access/openid/auth-url" && method === "POST");
  return !open;
}

export function createAuthority(access: AccessModel, keys: AuthKeys): Authority {
  const ageOk = (stamp: string): boolean => {
    const age = epoch() - parseInt(stamp, 16);
    return age > -gracePeriod && age < ticketLifetime;
  };

  const csrfDigest = (stamp: string, username: string): string =>
    createHmac("sha256", keys.csrfSecret).update(`${stamp}:${username}`).digest("base64").replace(/=+$/, "");

  /** PVE::AccessControl::verify_ticket; the user name, or undefined. */
  const verifyTicket = (ticket: string): string | undefined => {
    const m = /^(PVE:\S+)::([^:\s]+)$/.exec(ticket);
    if (!m) return undefined;
    const verifier = createVerify("RSA-SHA256").update(m[1]);
    if (!verifier.verify(keys.publicKeyPem, Buffer.from(m[2], "base64"))) return undefined;
    const plain = /^PVE:(?:(\S+):)?([A-Z0-9]{8})$/.exec(m[1]);
    if (!plain?.[1] || !ageOk(plain[2])) return undefined;
    const username = uriUnescape(plain[1]);
    return access.users[username]?.enabled ? username : undefined;
  };

  const assembleTicket = (username: string): string => {
    const plain = `PVE:${username.replace(/:/g, "%3A")}:${hex8(epoch())}`;
    return `${plain}::${createSign("RSA-SHA256").update(plain).sign(keys.privateKeyPem, "base64")}`;
  };

  const verifyCsrf = (username: string, token: string | undefined): void => {
    const m = /^([A-Z0-9]{8}):(\S+)$/.exec(token ?? "");
    if (!m || !ageOk(m[1]) || !sameText(m[2], csrfDigest(m[1], username))) {
      throw new AuthFailure("Permission denied - invalid csrf token");
    }
  };

  /** PVE::AccessControl::verify_token */
  const verifyToken = (value: string): string => {
    const m = /^(.*)=(.*)$/s.exec(value);
    const parts = m ? splitTokenId(m[1]) : undefined;
    const user = parts ? access.users[parts.userid] : undefined;
    const token = parts ? user?.tokens[parts.token] : undefined;
    if (!m || !user?.enabled || !token || !sameText(m[2], token.secret)) throw new AuthFailure("Authentication failed!");
    return m[1];
  };

  return {
    authenticate(req) {
      const cookie = req.header("cookie");
      const authorization = req.header("authorization");
      const ticket = extractAuthValue(cookie, "PVEAuthCookie") ?? extractAuthValue(authorization, "PVEAuthCookie");
      const apiToken = ticket ? undefined : extractAuthValue(authorization, "PVEAPIToken");
      if (!needsAuth(req.method, req.relPath)) return { apiToken: apiToken !== undefined };
      if (apiToken !== undefined) return { authid: verifyToken(apiToken), apiToken: true };
      if (!ticket) throw new AuthFailure("No ticket");
      const username = verifyTicket(ticket);
      if (!username) throw new AuthFailure("Authentication failed!");
      if (req.method !== "GET") verifyCsrf(username, req.header("csrfpreventiontoken"));
      return { authid: username, apiToken: false };
    },

    login(username, password) {
      const user = access.users[username];
      const renewed = verifyTicket(password);
      const viaTicket = renewed !== undefined && (renewed === "root@pam" || renewed === username);
      const viaPassword = user?.password !== undefined && sameText(password, user.password);
      // create_ticket turns every failure into this one message, to prevent user enumeration.
      if (!user?.enabled || !(viaTicket || viaPassword)) throw new PveError(401, "authentication failure\n");
      const stamp = hex8(epoch());
      return { username, ticket: assembleTicket(username), CSRFPreventionToken: `${stamp}:${csrfDigest(stamp, username)}` };
    },
  };
}
