/**
 * Throwaway Debian 12 (the base of PVE 8) root filesystems to run the installer in: built once with
 * debootstrap and kept as a tarball in .cache/, unpacked fresh for each test file. Either entered with chroot
 * (`openChroot`: /proc, /sys and /dev mounted inside, no init) or booted with systemd as PID 1
 * (`bootContainer`: systemd-nspawn). Both share the host's network, so servers on the host's loopback (the
 * PVE simulator, the worker) are reachable from inside.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../support/ports.ts";

const CACHE = join(import.meta.dirname, "../../.cache");
const TARBALL = join(CACHE, "rootfs-bookworm.tar");
const MIRROR = "http://deb.debian.org/debian";
/** What a PVE host has before our installer runs (curl, openssl, systemd), on top of minbase. */
const INCLUDE = ["curl", "openssl", "ca-certificates", "systemd"];
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface RunResult {
  status: number;
  output: string;
}

export interface RunOptions {
  /** `user` or `user:group`; root when absent. */
  user?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface Rootfs {
  dir: string;
  /**
   * Runs a command inside with a clean environment; never rejects. Asynchronous, because the servers it
   * talks to (simulator, worker) run in the test's own event loop.
   */
  run(argv: string[], opts?: RunOptions): Promise<RunResult>;
  /** A path inside, seen from the host. */
  path(inner: string): string;
  /** Every path inside (below /), except the mounts and the `skip` prefixes, with its type. */
  list(skip: string[]): string[];
  /** SHA-256 of the file's content plus its mode and owner, or "absent". */
  fingerprint(inner: string): string;
  /** fingerprint() of every regular file below `inner`. */
  fingerprints(inner: string): Record<string, string>;
  close(): Promise<void>;
}

function sh(cmd: string, args: string[], timeoutMs = 600_000): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
}

/** Everything mounted at or below `dir`, deepest first. */
function mountsBelow(dir: string): string[] {
  return readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((m): m is string => Boolean(m) && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

function unmountAll(dir: string): void {
  for (const m of mountsBelow(dir)) spawnSync("umount", ["-l", m]);
  const left = mountsBelow(dir);
  if (left.length) throw new Error(`still mounted below ${dir}: ${left.join(", ")}`);
}

/** rm -rf that cannot cross into a mount (a bound /dev), and refuses while anything is mounted inside. */
function removeTree(dir: string): void {
  unmountAll(dir);
  execFileSync("rm", ["-rf", "--one-file-system", dir]);
}

function buildTarball(): void {
  const build = mkdtempSync(join(CACHE, "rootfs-build-"));
  try {
    sh("debootstrap", ["--variant=minbase", `--include=${INCLUDE.join(",")}`, "bookworm", build, MIRROR], 900_000);
    unmountAll(build);
    sh("chroot", [build, "apt-get", "clean"]);
    sh("tar", ["-C", build, "--numeric-owner", "-cf", `${TARBALL}.tmp`, "."], 300_000);
    renameSync(`${TARBALL}.tmp`, TARBALL);
  } finally {
    removeTree(build);
  }
}

/** The cached tarball, built by whichever test file gets here first while the others wait for it. */
async function ensureTarball(): Promise<void> {
  mkdirSync(CACHE, { recursive: true });
  const lock = `${TARBALL}.lock`;
  const until = Date.now() + 1_200_000;
  while (!existsSync(TARBALL)) {
    let fd: number | undefined;
    try {
      fd = openSync(lock, "wx");
    } catch {
      // Another file is building it; a lock older than 20 minutes is left from a killed run.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 1_200_000) rmSync(lock, { force: true });
      if (Date.now() > until) throw new Error(`waited 20 minutes for ${TARBALL}`);
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    try {
      if (!existsSync(TARBALL)) buildTarball();
    } finally {
      closeSync(fd);
      rmSync(lock, { force: true });
    }
  }
}

function requireTools(tools: string[]): void {
  const missing = tools.filter((t) => spawnSync("which", [t]).status !== 0);
  if (missing.length) throw new Error(`the install tests need ${missing.join(", ")}: apt-get install debootstrap systemd systemd-container (see .ci/run)`);
}

/** A fresh copy of the cached root filesystem, and a cache of downloaded .debs that outlives it. */
async function unpack(name: string): Promise<{ dir: string; archives: string }> {
  requireTools(["debootstrap", "chroot", "tar", "mount", "systemd-analyze"]);
  await ensureTarball();
  // One .deb cache per user: apt locks its archive directory, and the test files run at the same time.
  const archives = join(CACHE, `apt-archives-${name}`);
  mkdirSync(archives, { recursive: true });
  const dir = mkdtempSync(`/tmp/pve-mcp-${name}-`);
  sh("tar", ["-C", dir, "--numeric-owner", "-xf", TARBALL], 300_000);
  // mkdtemp makes it 0700: the root of the tree must be searchable for users other than root.
  chmodSync(dir, 0o755);
  execFileSync("cp", ["-L", "/etc/resolv.conf", join(dir, "etc/resolv.conf")]);
  return { dir, archives };
}

/** Collects a child's output and resolves with its status; never rejects. */
function collect(child: ChildProcess): Promise<RunResult> {
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => {
    child.once("error", (err) => resolve({ status: -1, output: `${output}\n${err.message}` }));
    child.once("close", (code, signal) => resolve({ status: code ?? -1, output: signal ? `${output}\n(killed by ${signal})` : output }));
  });
}

const envArgs = (env: Record<string, string>) => Object.entries(env).map(([k, v]) => `${k}=${v}`);

/** The inspection half of Rootfs, the same for both kinds. */
function inspector(dir: string, mounts: string[]): Pick<Rootfs, "dir" | "path" | "list" | "fingerprint" | "fingerprints"> {
  const fingerprint = (inner: string) => {
    const full = join(dir, inner);
    if (!existsSync(full)) return "absent";
    const st = statSync(full);
    const hash = createHash("sha256").update(readFileSync(full)).digest("hex");
    return `${hash} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
  };
  const list = (skip: string[]) => {
    const out: string[] = [];
    const walk = (inner: string) => {
      for (const name of readdirSync(join(dir, inner)).sort()) {
        const rel = `${inner === "/" ? "" : inner}/${name}`;
        if (mounts.includes(rel) || skip.some((s) => rel === s || rel.startsWith(`${s}/`))) continue;
        const st = lstatSync(join(dir, rel));
        const type = st.isSymbolicLink() ? `-> ${readlinkSync(join(dir, rel))}` : st.isDirectory() ? "/" : "";
        out.push(`${rel}${type}`);
        if (st.isDirectory()) walk(rel);
      }
    };
    walk("/");
    return out;
  };
  return {
    dir,
    path: (inner) => join(dir, inner),
    list,
    fingerprint,
    fingerprints(inner) {
      const files = list([]).filter((p) => p.startsWith(`${inner}/`) && !p.endsWith("/") && !p.includes("-> "));
      return Object.fromEntries(files.map((f) => [f, fingerprint(f)]));
    },
  };
}

/** Unpacks a root filesystem and mounts /proc, /sys and /dev in it, for chroot. */
export async function openChroot(name = "chroot"): Promise<Rootfs> {
  const { dir, archives } = await unpack(name);
  try {
    sh("mount", ["-t", "proc", "proc", join(dir, "proc")]);
    sh("mount", ["-t", "sysfs", "sysfs", join(dir, "sys")]);
    sh("mount", ["--rbind", "/dev", join(dir, "dev")]);
    sh("mount", ["--make-rslave", join(dir, "dev")]);
    sh("mount", ["--bind", archives, join(dir, "var/cache/apt/archives")]);
  } catch (err) {
    removeTree(dir);
    throw err;
  }
  return {
    ...inspector(dir, ["/proc", "/sys", "/dev", "/var/cache/apt/archives"]),
    run(argv, opts = {}) {
      const env = { PATH, LANG: "C.UTF-8", HOME: "/root", ...opts.env };
      const userspec = opts.user?.includes(":") ? opts.user : opts.user && `${opts.user}:${opts.user}`;
      const chroot = ["chroot", ...(userspec ? [`--userspec=${userspec}`] : []), dir, ...argv];
      return collect(spawn("env", ["-i", ...envArgs(env), ...chroot], { stdio: ["ignore", "pipe", "pipe"], timeout: opts.timeoutMs ?? 300_000 }));
    },
    async close() {
      removeTree(dir);
    },
  };
}

/**
 * Unpacks a root filesystem and boots it with systemd-nspawn (systemd as PID 1, the host's network);
 * commands run in it through nsenter. Resolves once systemd reports the boot finished.
 */
export async function bootContainer(name = "systemd"): Promise<Rootfs> {
  requireTools(["systemd-nspawn", "nsenter"]);
  const { dir, archives } = await unpack(name);
  // --keep-unit and --register=no: no systemd on the host to ask for a scope or to register with.
  const nspawn = spawn("systemd-nspawn", ["-D", dir, "-b", "--register=no", "--keep-unit", "--console=pipe", `--bind=${archives}:/var/cache/apt/archives`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = collect(nspawn);
  const leader = () => {
    const children = readFileSync(`/proc/${nspawn.pid}/task/${nspawn.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    return children.length === 1 && readFileSync(`/proc/${children[0]}/comm`, "utf8").trim() === "systemd" ? children[0] : undefined;
  };
  let pid1: string;
  const nsenter = (argv: string[], opts: RunOptions = {}) => {
    const env = { PATH, LANG: "C.UTF-8", HOME: "/root", ...opts.env };
    const as = opts.user ? ["runuser", "-u", opts.user.split(":")[0], "--"] : [];
    return spawn("nsenter", ["-t", pid1, "-a", "env", "-i", ...envArgs(env), ...as, ...argv], { stdio: ["ignore", "pipe", "pipe"], timeout: opts.timeoutMs ?? 300_000 });
  };
  const stop = async () => {
    if (nspawn.exitCode === null) nspawn.kill("SIGTERM");
    const timer = setTimeout(() => nspawn.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
    removeTree(dir);
  };
  try {
    pid1 = await waitFor(leader, "systemd in the container", 30_000);
    // Polled: until systemd has its bus socket, systemctl cannot even ask.
    let state = "";
    await waitFor(async () => {
      state = (await collect(nsenter(["systemctl", "is-system-running"], { timeoutMs: 10_000 }))).output.trim();
      return /^(running|degraded)$/.test(state);
    }, `the boot to finish (systemctl is-system-running: ${state})`, 120_000);
  } catch (err) {
    await stop();
    throw new Error(`systemd-nspawn could not boot ${dir}: ${(err as Error).message}\n${(await exited).output.slice(-3000)}`);
  }
  return {
    ...inspector(dir, ["/var/cache/apt/archives"]),
    run: (argv, opts) => collect(nsenter(argv, opts)),
    close: stop,
  };
}
