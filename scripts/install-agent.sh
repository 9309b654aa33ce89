#!/usr/bin/env bash
# Installs, upgrades or removes the Proxmox MCP relay agent on a Proxmox VE 8 or 9 host.
#
#   install-agent.sh --worker https://mcp.example.com --code pmc_XXXXX-XXXXX-XXXXX-XXXXX [options]
#   install-agent.sh --uninstall [--pve-token ID=SECRET]
#
# What it does, what it leaves, and how to undo it by hand: docs/install.md. Run it as root.
#
# The small JavaScript programs below are single-quoted on purpose: their ${...} belong to JavaScript.
# shellcheck disable=SC2016
set -euo pipefail

readonly PROG=install-agent.sh
readonly LIB_DIR=/usr/local/lib/pve-mcp
readonly BUNDLE_DEST=$LIB_DIR/pve-mcp-agent.cjs
readonly CONF_DIR=/etc/pve-mcp
readonly CONFIG=$CONF_DIR/agent.json
readonly KEY=$CONF_DIR/agent.key
readonly INSTALL_STATE=$CONF_DIR/install.env
readonly STATE_DIR=/var/lib/pve-mcp
readonly LOG_DIR=/var/log/pve-mcp
readonly UNIT_NAME=pve-mcp-agent.service
readonly UNIT=/etc/systemd/system/$UNIT_NAME
readonly DROPIN_DIR=/etc/systemd/system/$UNIT_NAME.d
readonly SUDOERS=/etc/sudoers.d/pve-mcp
readonly SYS_USER=pve-mcp
readonly PVE_USER=pve-mcp@pve
readonly TOKEN_NAME=agent
readonly TOKEN_ID="$PVE_USER!$TOKEN_NAME"

usage() {
  cat <<EOF
usage: $PROG --worker URL --code CODE [options]      install, or upgrade in place
       $PROG --uninstall [options]                   remove everything this script created

  --worker URL          the worker's base URL (https://...); the agent dials wss://.../agent
  --code CODE           one-time enrollment code (POST /admin/enrollment-codes); first install only
  --agent-id ID         the agent's name at the worker (default: this host's short hostname)
  --tier TIER           read | operator | admin (default: operator, or the installed tier)
                          read      PVE audit privileges only
                          operator  + power, snapshots, backups, console, guest configuration
                          admin     PVE Administrator, and host commands (host_exec) enabled
  --exec-user USER      admin tier: run host commands as pve-mcp through sudo (default), or root
  --pve-url URL         the PVE API (default: https://127.0.0.1:8006)
  --pve-token ID=SECRET an admin API token for the setup calls when pvesh is absent
                          (or PVE_MCP_SETUP_TOKEN; or PVE_ROOT_PASSWORD for a root@pam ticket)
  --bundle PATH         the agent bundle (default: pve-mcp-agent.cjs next to this script)
  --refresh-fingerprint pin PVE's current certificate again (after it was renewed)
  --keep-packages       with --uninstall: keep nodejs/sudo even if this script installed them
  --wait SECONDS        how long to wait for the worker to see the agent (default 60; 0: don't)
  --yes                 do not ask for confirmation
EOF
}

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}

# ---------------------------------------------------------------- options

WORKER="" CODE="" AGENT_ID="" TIER="" EXEC_USER="" PVE_URL="https://127.0.0.1:8006" BUNDLE=""
PVE_URL_GIVEN=0 SETUP_TOKEN="${PVE_MCP_SETUP_TOKEN:-}" ROOT_PASSWORD="${PVE_ROOT_PASSWORD:-}" UNINSTALL=0 YES=0 WAIT=60 REFRESH_FP=0 KEEP_PACKAGES=0
while (($#)); do
  case "$1" in
    --worker) WORKER=${2:?--worker needs a URL}; shift ;;
    --code) CODE=${2:?--code needs a value}; shift ;;
    --agent-id) AGENT_ID=${2:?--agent-id needs a value}; shift ;;
    --tier) TIER=${2:?--tier needs read, operator or admin}; shift ;;
    --exec-user) EXEC_USER=${2:?--exec-user needs pve-mcp or root}; shift ;;
    --pve-url) PVE_URL=${2:?--pve-url needs a URL}; PVE_URL_GIVEN=1; shift ;;
    --pve-token) SETUP_TOKEN=${2:?--pve-token needs USER@REALM!ID=SECRET}; shift ;;
    --bundle) BUNDLE=${2:?--bundle needs a path}; shift ;;
    --wait) WAIT=${2:?--wait needs seconds}; shift ;;
    --refresh-fingerprint) REFRESH_FP=1 ;;
    --keep-packages) KEEP_PACKAGES=1 ;;
    --uninstall) UNINSTALL=1 ;;
    --yes | -y) YES=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
  shift
done
# Secrets stay in this shell: not passed on to curl, node, apt and the rest.
unset PVE_MCP_SETUP_TOKEN PVE_ROOT_PASSWORD
PVE_URL=${PVE_URL%/}
WORKER=${WORKER%/}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# What an earlier run recorded: tier, exec user, packages it installed, whether it created the user.
REC_TIER="" REC_EXEC_USER="" REC_PACKAGES="" REC_CREATED_USER=0 REC_ROLE="" REC_AGENT_ID="" REC_WORKER="" REC_PVE_URL=""
load_state() {
  [[ -f $INSTALL_STATE ]] || return 0
  local key value
  while IFS='=' read -r key value; do
    case "$key" in
      TIER) REC_TIER=$value ;;
      EXEC_USER) REC_EXEC_USER=$value ;;
      PACKAGES) REC_PACKAGES=$value ;;
      CREATED_USER) REC_CREATED_USER=$value ;;
      ROLE) REC_ROLE=$value ;;
      AGENT_ID) REC_AGENT_ID=$value ;;
      WORKER) REC_WORKER=$value ;;
      PVE_URL) REC_PVE_URL=$value ;;
    esac
  done <"$INSTALL_STATE"
}

# ---------------------------------------------------------------- prerequisites

is_systemd_running() { [[ -d /run/systemd/system ]]; }

check_prerequisites() {
  [[ $(id -u) -eq 0 ]] || die "run this as root (it creates a system user, a PVE user and token, and a systemd unit)"
  local missing=()
  if [[ -r /etc/os-release ]]; then
    local ID="" VERSION_ID="" PRETTY_NAME=""
    # shellcheck disable=SC1091
    . /etc/os-release
    if [[ $ID != debian || ! $VERSION_ID =~ ^(12|13)$ ]]; then
      die "this is ${PRETTY_NAME:-an unknown system}; Proxmox VE 8 runs on Debian 12 and PVE 9 on Debian 13, and this script supports only those"
    fi
  else
    die "/etc/os-release is missing: cannot tell which Debian (and so which Proxmox VE) this is"
  fi
  if command -v pveversion >/dev/null; then
    local pve
    pve=$(pveversion | sed -n 's#^pve-manager/\([0-9]*\)\..*#\1#p')
    [[ $pve == 8 || $pve == 9 ]] || die "pveversion reports '$(pveversion)'; this script supports Proxmox VE 8 and 9"
    note "Proxmox VE $(pveversion | cut -d/ -f2) on Debian $VERSION_ID"
  else
    note "Debian $VERSION_ID; pveversion not found, so this is not a PVE node itself: the PVE API at $PVE_URL will be checked instead"
  fi
  command -v curl >/dev/null || missing+=("curl (apt-get install curl)")
  command -v openssl >/dev/null || missing+=("openssl (apt-get install openssl)")
  command -v systemctl >/dev/null || missing+=("systemd (systemctl not found; the agent runs as a systemd service)")
  command -v useradd >/dev/null || missing+=("useradd (apt-get install passwd)")
  command -v node >/dev/null || command -v apt-get >/dev/null || missing+=("node 18+ or apt-get to install Debian's nodejs")
  ((${#missing[@]} == 0)) || die "missing: $(printf '%s; ' "${missing[@]}")"
}

# Packages this script installed (so --uninstall removes them, and nothing it did not install).
INSTALLED_PACKAGES=()
# apt quietly; its whole output is shown only when it fails.
quiet_apt() {
  local log status=0
  log=$(mktemp)
  DEBIAN_FRONTEND=noninteractive apt-get -q "$@" >"$log" 2>&1 || status=$?
  ((status == 0)) || cat "$log" >&2
  rm -f "$log"
  return "$status"
}

apt_install() {
  local pkg
  for pkg in "$@"; do
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
      note "apt-get update (no package list offers $pkg)"
      quiet_apt update || die "apt-get update failed"
      break
    fi
  done
  if ! quiet_apt install -y --no-install-recommends "$@"; then
    note "apt-get install failed; updating the package lists and trying once more"
    quiet_apt update || die "apt-get update failed"
    quiet_apt install -y --no-install-recommends "$@" || die "could not install $*"
  fi
  INSTALLED_PACKAGES+=("$@")
  note "installed $* with apt"
}

NODE=""
ensure_node() {
  if ! command -v node >/dev/null; then
    say "Installing Debian's nodejs (node is not installed)"
    apt_install nodejs
  fi
  NODE=$(command -v node)
  case "$NODE" in
    /root/* | /home/*) die "node is $NODE, inside a home directory the sandboxed service cannot see (ProtectHome); install Debian's nodejs (apt-get install nodejs) or a node under /usr" ;;
  esac
  local major
  major=$("$NODE" -p 'process.versions.node.split(".")[0]')
  ((major >= 18)) || die "node $("$NODE" --version) at $NODE is too old: the agent needs Node 18 or newer (Debian 12 ships 18, Debian 13 ships 20)"
  note "node $("$NODE" --version) at $NODE"
}

# Runs a small JavaScript program; arguments arrive in process.argv.slice(1). Anything secret goes on stdin
# (read with require("fs").readFileSync(0)), never as an argument, which `ps` would show.
js() {
  local program=$1
  shift
  "$NODE" -e "$program" -- "$@"
}

find_file() { # name, candidate directories...
  local name=$1 dir
  shift
  for dir in "$@"; do
    if [[ -f $dir/$name ]]; then
      printf '%s\n' "$dir/$name"
      return 0
    fi
  done
  return 1
}

locate_artifacts() {
  if [[ -z $BUNDLE ]]; then
    BUNDLE=$(find_file pve-mcp-agent.cjs "$SCRIPT_DIR" "$SCRIPT_DIR/../dist") ||
      die "the agent bundle pve-mcp-agent.cjs is not next to this script; pass --bundle PATH"
  fi
  [[ -f $BUNDLE ]] || die "--bundle $BUNDLE: no such file"
  UNIT_SRC=$(find_file pve-mcp-agent.service "$SCRIPT_DIR" "$SCRIPT_DIR/../deploy") ||
    die "pve-mcp-agent.service is not next to this script (nor in ../deploy); it ships with the bundle"
  local deploy
  deploy=$(dirname "$UNIT_SRC")
  EXEC_DROPIN_SRC=$deploy/pve-mcp-agent-exec.conf
  ROOT_DROPIN_SRC=$deploy/pve-mcp-agent-root.conf
  SUDOERS_SRC=$deploy/sudoers.pve-mcp
  local f
  for f in "$EXEC_DROPIN_SRC" "$ROOT_DROPIN_SRC" "$SUDOERS_SRC"; do
    [[ -f $f ]] || die "$f is missing (it ships next to pve-mcp-agent.service)"
  done
  BUNDLE_VERSION=$("$NODE" "$BUNDLE" version) || die "$BUNDLE does not run on $NODE"
}

# ---------------------------------------------------------------- PVE API: pvesh on a node, else HTTPS

PVE_TRANSPORT="" PIN="" FINGERPRINT="" AUTH_CONFIG="" CONFIG_SECRET=""

# The certificate PVE presents; pinned for the setup calls and in the agent's config.
fetch_fingerprint() {
  local hostport=${PVE_URL#*://}
  hostport=${hostport%%/*}
  [[ $hostport =~ :[0-9]+$ ]] || hostport="$hostport:443"
  local pem
  pem=$(timeout 15 openssl s_client -connect "$hostport" </dev/null 2>/dev/null | openssl x509 -outform PEM 2>/dev/null) ||
    die "cannot read a TLS certificate from $hostport (is PVE's API at $PVE_URL?)"
  FINGERPRINT=$(openssl x509 -noout -fingerprint -sha256 <<<"$pem" | cut -d= -f2)
  PIN=$(openssl x509 -noout -pubkey <<<"$pem" | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | openssl enc -base64)
  [[ $FINGERPRINT =~ ^([0-9A-F]{2}:){31}[0-9A-F]{2}$ ]] || die "unexpected certificate fingerprint '$FINGERPRINT' from $hostport"
}

choose_transport() {
  if command -v pvesh >/dev/null; then
    PVE_TRANSPORT=pvesh
    note "PVE access through pvesh (local, as root)"
    return
  fi
  PVE_TRANSPORT=https
  if [[ -n $SETUP_TOKEN ]]; then
    [[ $SETUP_TOKEN =~ ^[^@!=[:space:]]+@[^@!=[:space:]]+![A-Za-z][A-Za-z0-9._-]*=.+$ ]] ||
      die "--pve-token must be USER@REALM!TOKENID=SECRET (an API token with Permissions.Modify, User.Modify and Sys.Modify, e.g. root@pam without privilege separation)"
    AUTH_CONFIG="header = \"Authorization: PVEAPIToken=$SETUP_TOKEN\""
    note "PVE access through the API at $PVE_URL with token ${SETUP_TOKEN%%=*}"
  elif [[ -n $ROOT_PASSWORD ]]; then
    local login
    login=$(curl_pve POST /access/ticket username=root@pam "password@"<(printf %s "$ROOT_PASSWORD")) ||
      die "root@pam login to $PVE_URL failed"
    AUTH_CONFIG=$(printf %s "$login" | js 'const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
      console.log(`cookie = "PVEAuthCookie=${d.ticket}"\nheader = "CSRFPreventionToken: ${d.CSRFPreventionToken}"`)')
    note "PVE access through the API at $PVE_URL with a root@pam ticket"
  else
    die "pvesh is not available here, so the PVE user, role and token are made through the API at $PVE_URL: pass --pve-token USER@REALM!ID=SECRET (or set PVE_MCP_SETUP_TOKEN, or PVE_ROOT_PASSWORD)"
  fi
}

# One API call over HTTPS with the pinned key; prints the reply's data as JSON.
curl_pve() {
  local method=$1 path=$2 arg reply
  shift 2
  local args=(-sS --max-time 30 -k --pinnedpubkey "sha256//$PIN" -X "$method" -w '\n%{http_code}')
  [[ $method == GET || $method == DELETE ]] && args+=(-G)
  # name=value, or name@/dev/fd/N to read a secret from a descriptor (curl's own syntax): off the command line.
  for arg in "$@"; do args+=(--data-urlencode "$arg"); done
  reply=$(curl "${args[@]}" -K <(printf '%s\n' "$AUTH_CONFIG") "$PVE_URL/api2/json$path") || die "cannot reach $PVE_URL ($method $path)"
  printf %s "$reply" | js 'const text = require("fs").readFileSync(0, "utf8"), [method, path] = process.argv.slice(1);
    const at = text.lastIndexOf("\n"), status = Number(text.slice(at + 1));
    let body = {};
    try { body = JSON.parse(text.slice(0, at)); } catch {}
    if (status === 200) { console.log(JSON.stringify(body.data ?? null)); process.exit(0); }
    const errors = body.errors ? " " + Object.entries(body.errors).map(([k, v]) => `${k}: ${String(v).trim()}`).join("; ") : "";
    const why = status === 401 ? "authentication failed (check --pve-token / PVE_ROOT_PASSWORD)" : String(body.message ?? "").trim();
    console.error(`PVE API ${method} ${path}: HTTP ${status} ${why}${errors}`);
    process.exit(1);' "$method" "$path"
}

# pve METHOD PATH [name=value ...]: the data of the reply as JSON ("null" when there is none).
pve() {
  local method=$1 path=$2
  shift 2
  if [[ $PVE_TRANSPORT == https ]]; then
    curl_pve "$method" "$path" "$@"
    return
  fi
  local verb arg out args=()
  case "$method" in GET) verb="get" ;; POST) verb="create" ;; PUT) verb="set" ;; DELETE) verb="delete" ;; esac
  for arg in "$@"; do args+=("--${arg%%=*}" "${arg#*=}"); done
  out=$(pvesh "$verb" "$path" "${args[@]}" --output-format json) || { echo "pvesh $verb $path failed" >&2; return 1; }
  printf '%s\n' "${out:-null}"
}

# ---------------------------------------------------------------- PVE user, role, token, ACL

# Privileges of each tier. Those this PVE does not know (VM.Monitor went away in PVE 9,
# VM.GuestAgent.* came with it) are dropped against the Administrator role's list.
READ_PRIVS="Sys.Audit VM.Audit Datastore.Audit Pool.Audit SDN.Audit Mapping.Audit VM.GuestAgent.Audit"
OPERATOR_PRIVS="$READ_PRIVS VM.PowerMgmt VM.Snapshot VM.Snapshot.Rollback VM.Backup VM.Console VM.Monitor
  Datastore.AllocateSpace VM.Config.CDROM VM.Config.CPU VM.Config.Memory VM.Config.Network VM.Config.Disk
  VM.Config.Options VM.Config.HWType VM.Config.Cloudinit Sys.Syslog"

role_for_tier() {
  case "$1" in
    read) echo MCPRead ;;
    operator) echo MCPOperator ;;
    admin) echo Administrator ;;
  esac
}

check_pve_version() {
  local reply version
  reply=$(pve GET /version)
  version=$(js 'process.stdout.write(String(JSON.parse(process.argv[1])?.version))' "$reply")
  [[ ${version%%.*} == 8 || ${version%%.*} == 9 ]] || die "the PVE API at $PVE_URL is version $version; this script supports Proxmox VE 8 and 9"
  note "PVE API $version at $PVE_URL"
}

# has_entry JSON FIELD VALUE: "yes" when the JSON array has an element whose FIELD is VALUE.
has_entry() {
  js 'const [json, field, value] = process.argv.slice(1);
    process.stdout.write((JSON.parse(json) ?? []).some((e) => String(e[field]) === value) ? "yes" : "no")' "$@"
}

# pve_has PATH FIELD VALUE: "yes" when the list at PATH has that element; stops the script if PVE fails.
pve_has() {
  local list
  list=$(pve GET "$1")
  has_entry "$list" "$2" "$3"
}

ensure_pve_role() { # role tier
  local role=$1 tier=$2 wanted all current exists
  [[ $role == Administrator ]] && return 0
  all=$(pve GET /access/roles/Administrator)
  wanted=$(js 'const known = JSON.parse(process.argv[1]);
    process.stdout.write([...new Set(process.argv[2].split(/\s+/).filter((p) => p && p in known))].sort().join(","))' \
    "$all" "$([[ $tier == read ]] && echo "$READ_PRIVS" || echo "$OPERATOR_PRIVS")")
  exists=$(pve_has /access/roles roleid "$role")
  if [[ $exists == yes ]]; then
    current=$(pve GET "/access/roles/$role")
    current=$(js 'process.stdout.write(Object.keys(JSON.parse(process.argv[1])).sort().join(","))' "$current")
    if [[ $current != "$wanted" ]]; then
      say "Updating PVE role $role"
      pve PUT "/access/roles/$role" "privs=$wanted" >/dev/null
    fi
  else
    say "Creating PVE role $role ($wanted)"
    pve POST /access/roles "roleid=$role" "privs=$wanted" >/dev/null
  fi
}

# Prints the roles an authid holds on / ("" when none).
acl_roles() {
  local acl
  acl=$(pve GET /access/acl)
  js 'const [json, id] = process.argv.slice(1);
    const list = JSON.parse(json) ?? [];
    process.stdout.write(list.filter((e) => e.path === "/" && e.ugid === id).map((e) => e.roleid).sort().join(" "))' "$acl" "$1"
}

ensure_acl() { # role
  local role=$1 kind id current r
  for kind in users tokens; do
    id=$([[ $kind == users ]] && echo "$PVE_USER" || echo "$TOKEN_ID")
    current=$(acl_roles "$id") || exit 1
    for r in $current; do
      [[ $r == "$role" ]] && continue
      say "Removing ACL / $r for $id"
      pve PUT /access/acl path=/ "roles=$r" "$kind=$id" delete=1 >/dev/null
    done
    if [[ " $current " != *" $role "* ]]; then
      say "Granting $role on / to $id"
      pve PUT /access/acl path=/ "roles=$role" "$kind=$id" propagate=1 >/dev/null
    fi
  done
}

TOKEN_SECRET=""
ensure_pve_access() { # tier
  local tier=$1 role user_exists
  role=$(role_for_tier "$tier")
  check_pve_version
  user_exists=$(pve_has /access/users userid "$PVE_USER")
  if [[ $user_exists == no ]]; then
    say "Creating PVE user $PVE_USER"
    pve POST /access/users "userid=$PVE_USER" "comment=Proxmox MCP agent (install-agent.sh)" >/dev/null
  fi
  ensure_pve_role "$role" "$tier"

  local have_token have_secret=no reply
  have_token=$(pve_has "/access/users/$PVE_USER/token" tokenid "$TOKEN_NAME")
  [[ -n $CONFIG_SECRET ]] && have_secret=yes
  if [[ $have_token == yes && $have_secret == no ]]; then
    # A token secret cannot be read back; without the config it is lost, so make a new one.
    say "Replacing API token $TOKEN_ID (its secret is not in $CONFIG)"
    pve DELETE "/access/users/$PVE_USER/token/$TOKEN_NAME" >/dev/null
    have_token=no
  fi
  if [[ $have_token == no ]]; then
    say "Creating API token $TOKEN_ID (privilege separation on)"
    [[ $have_secret == yes ]] && warn "$CONFIG holds a secret for a token PVE no longer has; the new token's secret replaces it"
    reply=$(pve POST "/access/users/$PVE_USER/token/$TOKEN_NAME" privsep=1 "comment=Proxmox MCP agent")
    TOKEN_SECRET=$(printf %s "$reply" | js 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).value)')
  else
    TOKEN_SECRET=$CONFIG_SECRET
  fi
  ensure_acl "$role"
  if [[ -n $REC_ROLE && $REC_ROLE != "$role" && $REC_ROLE != Administrator ]]; then
    say "Deleting PVE role $REC_ROLE (the previous tier's)"
    pve DELETE "/access/roles/$REC_ROLE" >/dev/null || warn "could not delete role $REC_ROLE"
  fi
  ROLE=$role
}

# ---------------------------------------------------------------- files

CHANGED=0
# install_file SRC DEST MODE OWNER: replaces DEST atomically, and only when its content differs.
install_file() {
  local src=$1 dest=$2 mode=$3 owner=$4
  if [[ -f $dest ]] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest"
    chown "$owner" "$dest"
    return 0
  fi
  install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dest.new"
  mv -f "$dest.new" "$dest"
  CHANGED=1
  note "wrote $dest"
}

remove_file() {
  if [[ -e $1 ]]; then
    rm -f "$1"
    CHANGED=1
    note "removed $1"
  fi
}

ensure_system_user() {
  if id "$SYS_USER" >/dev/null 2>&1; then
    return 0
  fi
  say "Creating system user $SYS_USER"
  useradd --system --user-group --no-create-home --home-dir "$STATE_DIR" --shell /usr/sbin/nologin \
    --comment "Proxmox MCP agent" "$SYS_USER"
  REC_CREATED_USER=1
}

ensure_directories() {
  install -d -m 0755 -o root -g root "$LIB_DIR"
  install -d -m 0750 -o root -g "$SYS_USER" "$CONF_DIR"
  # systemd's StateDirectory=/LogsDirectory= would create these too; made here so a start by hand works.
  install -d -m 0700 -o "$SYS_USER" -g "$SYS_USER" "$STATE_DIR"
  install -d -m 0750 -o "$SYS_USER" -g "$SYS_USER" "$LOG_DIR"
}

enroll() {
  say "Enrolling agent '$AGENT_ID' with $WORKER (the private key is made here and never leaves this host)"
  local out
  out=$("$NODE" "$BUNDLE" enroll --worker "$WORKER" --code "$CODE" --agent-id "$AGENT_ID" --key "$KEY") ||
    die "enrollment failed (see above); mint a new code if this one was used or expired"
  chown "$SYS_USER:$SYS_USER" "$KEY"
  chmod 0600 "$KEY"
  AGENT_URL=$(js 'process.stdout.write(JSON.parse(process.argv[1]).agent_url)' "$out")
}

write_config() { # tier
  local exec_enabled=false tmp
  [[ $1 == admin ]] && exec_enabled=true
  tmp=$(mktemp "$CONF_DIR/.agent.json.XXXXXX")
  # Values travel in the environment, so the token secret never shows on a command line.
  C_WORKER_URL=$AGENT_URL C_AGENT_ID=$AGENT_ID C_KEY=$KEY C_PVE_URL=$PVE_URL C_TOKEN_ID=$TOKEN_ID \
    C_TOKEN_SECRET=$TOKEN_SECRET C_FINGERPRINT=$FINGERPRINT C_STATE_DIR=$STATE_DIR C_EXEC=$exec_enabled \
    js 'const e = process.env;
      const config = {
        worker_url: e.C_WORKER_URL,
        agent_id: e.C_AGENT_ID,
        private_key: e.C_KEY,
        pve: { url: e.C_PVE_URL, token_id: e.C_TOKEN_ID, token_secret: e.C_TOKEN_SECRET, fingerprint: e.C_FINGERPRINT },
        state_dir: e.C_STATE_DIR,
        exec: { enabled: e.C_EXEC === "true" },
      };
      require("fs").writeFileSync(process.argv[1], JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });' "$tmp"
  chown "$SYS_USER:$SYS_USER" "$tmp"
  chmod 0600 "$tmp"
  mv -f "$tmp" "$CONFIG"
  CHANGED=1
  note "wrote $CONFIG"
}

# Changes single keys of the existing config (new token secret, tier, fingerprint) and keeps the rest.
update_config() { # tier
  local tmp exec_enabled=false pin="" rc=0
  [[ $1 == admin ]] && exec_enabled=true
  ((REFRESH_FP)) && pin=$FINGERPRINT
  tmp=$(mktemp "$CONF_DIR/.agent.json.XXXXXX")
  C_TOKEN_SECRET=$TOKEN_SECRET C_FINGERPRINT=$pin C_EXEC=$exec_enabled \
    js 'const fs = require("fs"), e = process.env, [src, dest] = process.argv.slice(1);
      const before = fs.readFileSync(src, "utf8"), config = JSON.parse(before);
      if (e.C_TOKEN_SECRET) config.pve.token_secret = e.C_TOKEN_SECRET;
      if (e.C_FINGERPRINT) config.pve.fingerprint = e.C_FINGERPRINT;
      const enabled = e.C_EXEC === "true";
      if ((config.exec?.enabled ?? false) !== enabled) config.exec = { ...config.exec, enabled };
      const after = JSON.stringify(config, null, 2) + "\n";
      fs.writeFileSync(dest, after, { mode: 0o600 });
      process.exit(after === before ? 3 : 0);' "$CONFIG" "$tmp" || rc=$?
  if ((rc == 3)); then
    rm -f "$tmp"
  elif ((rc == 0)); then
    chown "$SYS_USER:$SYS_USER" "$tmp"
    mv -f "$tmp" "$CONFIG"
    CHANGED=1
    note "updated $CONFIG"
  else
    rm -f "$tmp"
    die "cannot update $CONFIG"
  fi
  chown "$SYS_USER:$SYS_USER" "$CONFIG"
  chmod 0600 "$CONFIG"
}

install_unit() { # tier exec-user
  local tier=$1 exec_user=$2 tmp
  tmp=$(mktemp)
  # The unit names /usr/bin/node (Debian's); point it at the node this host has.
  sed "s#^ExecStart=/usr/bin/node #ExecStart=$NODE #" "$UNIT_SRC" >"$tmp"
  install_file "$tmp" "$UNIT" 0644 root:root
  rm -f "$tmp"
  if [[ $tier == admin ]]; then
    install -d -m 0755 "$DROPIN_DIR"
    install_file "$EXEC_DROPIN_SRC" "$DROPIN_DIR/exec.conf" 0644 root:root
    if [[ $exec_user == root ]]; then
      install_file "$ROOT_DROPIN_SRC" "$DROPIN_DIR/root.conf" 0644 root:root
    else
      remove_file "$DROPIN_DIR/root.conf"
    fi
  else
    remove_file "$DROPIN_DIR/exec.conf"
    remove_file "$DROPIN_DIR/root.conf"
  fi
  [[ -d $DROPIN_DIR ]] && rmdir --ignore-fail-on-non-empty "$DROPIN_DIR"
  return 0
}

install_sudoers() { # tier exec-user
  if [[ $1 != admin || $2 != pve-mcp ]]; then
    remove_file "$SUDOERS"
    return 0
  fi
  command -v sudo >/dev/null || {
    say "Installing sudo (host commands reach root through it; PVE does not ship it)"
    apt_install sudo
  }
  if command -v visudo >/dev/null; then
    visudo -c -q -f "$SUDOERS_SRC" >/dev/null || die "$SUDOERS_SRC does not pass visudo -c; not installing it"
  else
    warn "visudo not found: installing $SUDOERS without checking its syntax"
  fi
  install -d -m 0750 /etc/sudoers.d
  install_file "$SUDOERS_SRC" "$SUDOERS" 0440 root:root
}

save_state() {
  local tmp packages
  # shellcheck disable=SC2086 # the recorded list is space-separated
  packages=$(printf '%s\n' $REC_PACKAGES "${INSTALLED_PACKAGES[@]}" | sort -u | xargs)
  tmp=$(mktemp "$CONF_DIR/.install.env.XXXXXX")
  cat >"$tmp" <<EOF
# Written by $PROG: what --uninstall removes and what a re-run keeps. Do not edit.
AGENT_ID=$AGENT_ID
WORKER=$WORKER
PVE_URL=$PVE_URL
TIER=$TIER
EXEC_USER=$EXEC_USER
ROLE=$ROLE
CREATED_USER=$REC_CREATED_USER
PACKAGES=$packages
EOF
  chmod 0600 "$tmp"
  if [[ -f $INSTALL_STATE ]] && cmp -s "$tmp" "$INSTALL_STATE"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$INSTALL_STATE"
  fi
}

# ---------------------------------------------------------------- service

start_service() {
  systemctl enable "$UNIT_NAME" >/dev/null 2>&1 || warn "systemctl enable $UNIT_NAME failed"
  if ! is_systemd_running; then
    say "systemd is not running here (PID 1 is $(cat /proc/1/comm 2>/dev/null || echo unknown)), so the agent is installed and enabled but not started"
    note "it starts at the next boot, or now with:  systemctl start $UNIT_NAME"
    note "or by hand, as the unit does:  runuser -u $( [[ $EXEC_USER == root ]] && echo root || echo "$SYS_USER") -- $NODE $BUNDLE_DEST run --config $CONFIG"
    return 1
  fi
  systemctl daemon-reload
  if ((CHANGED)) || ! systemctl is-active --quiet "$UNIT_NAME"; then
    systemctl restart "$UNIT_NAME"
    note "started $UNIT_NAME"
  fi
  return 0
}

wait_connected() {
  ((WAIT > 0)) || return 0
  local base=$WORKER until state
  say "Waiting up to ${WAIT}s for $base to report agent '$AGENT_ID' connected"
  until=$((SECONDS + WAIT))
  while ((SECONDS < until)); do
    state=$(curl -fsS --max-time 5 "$base/healthz" 2>/dev/null | js 'const id = process.argv[1];
      try { const a = JSON.parse(require("fs").readFileSync(0, "utf8")).agents.find((x) => x.id === id);
        process.stdout.write(a?.connected ? "connected" : "waiting"); } catch { process.stdout.write("waiting"); }' "$AGENT_ID") || true
    if [[ $state == connected ]]; then
      say "Agent '$AGENT_ID' is connected to $base"
      return 0
    fi
    sleep 1
  done
  warn "the worker does not report '$AGENT_ID' connected after ${WAIT}s; see: journalctl -u $UNIT_NAME -n 50"
  return 1
}

confirm() {
  ((YES)) && return 0
  [[ -t 0 ]] || die "not asking on a non-interactive stdin: pass --yes"
  local answer
  read -r -p "Proceed? [y/N] " answer
  [[ $answer == [yY]* ]] || die "cancelled"
}

# ---------------------------------------------------------------- install / upgrade

install_agent() {
  check_prerequisites
  load_state
  TIER=${TIER:-${REC_TIER:-operator}}
  [[ $TIER =~ ^(read|operator|admin)$ ]] || die "--tier must be read, operator or admin (not '$TIER')"
  EXEC_USER=${EXEC_USER:-${REC_EXEC_USER:-pve-mcp}}
  [[ $EXEC_USER =~ ^(pve-mcp|root)$ ]] || die "--exec-user must be pve-mcp or root (not '$EXEC_USER')"
  [[ $EXEC_USER == root && $TIER != admin ]] && die "--exec-user root only makes sense with --tier admin (host commands are off in the $TIER tier)"
  AGENT_ID=${AGENT_ID:-${REC_AGENT_ID:-$(hostname -s 2>/dev/null || uname -n)}}
  [[ $AGENT_ID =~ ^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$ ]] || die "agent id '$AGENT_ID': letters, digits, . _ - (up to 64); pass --agent-id"
  WORKER=${WORKER:-$REC_WORKER}
  [[ -z $WORKER || $WORKER =~ ^https?://[^/]+$ ]] || die "--worker must be the worker's base URL, like https://mcp.example.com (not '$WORKER')"
  [[ $PVE_URL =~ ^https://[^/]+$ ]] || die "--pve-url must be https://HOST:PORT (not '$PVE_URL')"

  [[ $WAIT =~ ^[0-9]+$ ]] || die "--wait takes a number of seconds (not '$WAIT')"

  local first=1
  [[ -f $CONFIG && -f $KEY ]] && first=0
  if ((first)); then
    [[ -n $WORKER ]] || die "--worker URL is needed for the first install"
    [[ -n $CODE ]] || die "--code CODE is needed for the first install (an admin mints one: POST $WORKER/admin/enrollment-codes)"
  fi
  if ((first)); then
    say "Installing the Proxmox MCP agent '$AGENT_ID' (tier $TIER) for $WORKER"
  else
    say "Upgrading the Proxmox MCP agent '$AGENT_ID' in place (tier $TIER); $CONFIG, its key and token are kept"
    [[ -n $CODE ]] && note "already enrolled: --code is not used (to enroll again: --uninstall, then install with a new code)"
    [[ -n $REC_TIER && $REC_TIER != "$TIER" ]] && note "the tier changes from $REC_TIER to $TIER"
  fi
  confirm
  ensure_node
  locate_artifacts
  note "agent bundle $BUNDLE_VERSION from $BUNDLE"
  fetch_fingerprint
  note "PVE certificate SHA-256 $FINGERPRINT"
  choose_transport
  ensure_system_user
  ensure_directories
  if [[ -f $CONFIG ]]; then
    CONFIG_SECRET=$(js 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).pve?.token_secret ?? "")' "$CONFIG") ||
      die "$CONFIG is not readable JSON; move it away to install afresh"
  fi
  ensure_pve_access "$TIER"

  if ((first)); then
    enroll
    write_config "$TIER"
  else
    local pinned
    pinned=$(js 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).pve.fingerprint ?? "")' "$CONFIG")
    if [[ -n $pinned && $pinned != "$FINGERPRINT" && $REFRESH_FP == 0 ]]; then
      warn "PVE's certificate changed since the install ($CONFIG pins $pinned); the agent will refuse it: run again with --refresh-fingerprint"
    fi
    update_config "$TIER"
  fi

  local old_version=""
  [[ -f $BUNDLE_DEST ]] && old_version=$("$NODE" "$BUNDLE_DEST" version 2>/dev/null || true)
  install_file "$BUNDLE" "$BUNDLE_DEST" 0644 root:root
  install_unit "$TIER" "$EXEC_USER"
  install_sudoers "$TIER" "$EXEC_USER"
  save_state

  if [[ -n $old_version && $old_version != "$BUNDLE_VERSION" ]]; then
    say "Agent upgraded from $old_version to $BUNDLE_VERSION"
  fi
  ((CHANGED)) || say "Nothing changed: everything already was as installed"
  if start_service && [[ -n $WORKER ]] && ! wait_connected; then
    die "installed and started, but the agent did not connect (see above)"
  fi
  say "Done: agent $BUNDLE_VERSION, PVE token $TOKEN_ID (role $ROLE on /), config $CONFIG"
}

# ---------------------------------------------------------------- uninstall

remove_pve_access() {
  check_pve_version
  local acl entries kind path role id exists used
  # Every ACL entry of the user and its token, wherever it was added.
  acl=$(pve GET /access/acl)
  entries=$(js 'const [json, user] = process.argv.slice(1);
    for (const e of JSON.parse(json) ?? [])
      if (e.ugid === user || e.ugid.startsWith(user + "!")) console.log(`${e.type}s ${e.path} ${e.roleid} ${e.ugid}`);' "$acl" "$PVE_USER")
  while read -r kind path role id; do
    [[ -n $kind ]] || continue
    say "Removing ACL $path $role for $id"
    pve PUT /access/acl "path=$path" "roles=$role" "$kind=$id" delete=1 >/dev/null
  done <<<"$entries"
  exists=$(pve_has /access/users userid "$PVE_USER")
  if [[ $exists == yes ]]; then
    exists=$(pve_has "/access/users/$PVE_USER/token" tokenid "$TOKEN_NAME")
    if [[ $exists == yes ]]; then
      say "Deleting API token $TOKEN_ID"
      pve DELETE "/access/users/$PVE_USER/token/$TOKEN_NAME" >/dev/null
    fi
    say "Deleting PVE user $PVE_USER"
    pve DELETE "/access/users/$PVE_USER" >/dev/null
  fi
  local roles=$REC_ROLE
  [[ -n $roles ]] || roles="MCPRead MCPOperator"
  for role in $roles; do
    [[ $role == Administrator ]] && continue
    exists=$(pve_has /access/roles roleid "$role")
    [[ $exists == yes ]] || continue
    used=$(pve_has /access/acl roleid "$role")
    if [[ $used == yes ]]; then
      warn "PVE role $role is still used by other ACL entries; keeping it"
      continue
    fi
    say "Deleting PVE role $role"
    pve DELETE "/access/roles/$role" >/dev/null
  done
}

uninstall_agent() {
  [[ $(id -u) -eq 0 ]] || die "run this as root"
  load_state
  AGENT_ID=${AGENT_ID:-$REC_AGENT_ID}
  say "Removing the Proxmox MCP agent${AGENT_ID:+ '$AGENT_ID'}: service, files, user $SYS_USER, sudoers, and the PVE token, ACLs, role and user"
  confirm
  command -v node >/dev/null || die "node is needed to talk to the PVE API; it is gone already: remove $PVE_USER by hand (docs/install.md)"
  NODE=$(command -v node)

  if command -v systemctl >/dev/null; then
    if is_systemd_running; then
      systemctl disable --now "$UNIT_NAME" >/dev/null 2>&1 || true
    else
      systemctl disable "$UNIT_NAME" >/dev/null 2>&1 || true
    fi
  fi
  rm -f "/etc/systemd/system/multi-user.target.wants/$UNIT_NAME"

  [[ -n $REC_PVE_URL && $PVE_URL_GIVEN == 0 ]] && PVE_URL=$REC_PVE_URL
  fetch_fingerprint
  choose_transport
  remove_pve_access

  remove_file "$SUDOERS"
  rm -rf "$DROPIN_DIR"
  remove_file "$UNIT"
  is_systemd_running && systemctl daemon-reload
  # The record of what to undo (install.env) goes last, so a failed uninstall can simply be run again.
  find "$CONF_DIR" -mindepth 1 ! -path "$INSTALL_STATE" -delete 2>/dev/null || true
  rm -rf "$LIB_DIR" "$STATE_DIR" "$LOG_DIR"
  note "removed $LIB_DIR $CONF_DIR $STATE_DIR $LOG_DIR"
  # Without a record (an install by hand, a lost state file) the user is assumed to be this script's.
  local remove_user=$REC_CREATED_USER
  [[ -f $INSTALL_STATE ]] || remove_user=1
  if [[ $remove_user == 1 ]] && id "$SYS_USER" >/dev/null 2>&1; then
    userdel "$SYS_USER" || die "userdel $SYS_USER failed (is the agent still running? stop it, then run --uninstall again)"
    if getent group "$SYS_USER" >/dev/null; then groupdel "$SYS_USER"; fi
    note "removed system user $SYS_USER"
  fi
  if [[ -n $REC_PACKAGES ]]; then
    if ((KEEP_PACKAGES)); then
      note "keeping packages this script installed: $REC_PACKAGES"
    else
      say "Purging packages this script installed: $REC_PACKAGES"
      # sudo's prerm refuses when root has no password; it was not there before this script, so it goes.
      # shellcheck disable=SC2086 # the recorded list is space-separated
      SUDO_FORCE_REMOVE=yes quiet_apt purge -y --auto-remove $REC_PACKAGES ||
        die "apt-get purge $REC_PACKAGES failed; fix that, then run --uninstall again (or pass --keep-packages)"
    fi
  fi
  rm -rf "$CONF_DIR"
  say "Removed. At the worker, revoke the agent too:  curl -X DELETE -H 'Authorization: Bearer <admin token>' ${REC_WORKER:-https://<worker>}/admin/agents/${AGENT_ID:-<agent id>}"
}

if ((UNINSTALL)); then
  uninstall_agent
else
  install_agent
fi
