#!/usr/bin/env bash
# The one setup path for sam-backup on a Debian machine with Node 20, used by the README's two
# commands and by CI (.ci/run). Idempotent: each step is skipped when it is already done.
#
#   bash scripts/dev.sh demo       set up, then run the main job (sample SAM AI installation: Odoo data + graph → export → damage → restore, verified)
#   bash scripts/dev.sh test       set up, then lint, type-check, build and run every test
#   bash scripts/dev.sh services   set up and start the local services only, print their URLs
#   bash scripts/dev.sh stop       stop the local services this script started
#
# Services listen on 127.0.0.1 only, on ports of their own so that they never collide with a
# system PostgreSQL or Redis: PostgreSQL 15 on $SAM_DEV_PG_PORT (55432), Redis on $SAM_DEV_REDIS_PORT (56379).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PNPM_VERSION="12.4.2"
PG_MAJOR=15
PG_PORT="${SAM_DEV_PG_PORT:-55432}"
REDIS_PORT="${SAM_DEV_REDIS_PORT:-56379}"
STATE_DIR="${SAM_DEV_STATE_DIR:-/var/lib/sam-backup-dev}"
PG_DATA="$STATE_DIR/pg$PG_MAJOR"
PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"

log() { printf '\033[1m[sam-backup dev]\033[0m %s\n' "$*" >&2; }
die() { printf '[sam-backup dev] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_node() {
  command -v node >/dev/null || die "Node.js is not installed: install Node 20 (https://nodejs.org) and run again"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "Node $(node -v) is too old: sam-backup needs Node 20 or newer"
}

ensure_pnpm() {
  if command -v pnpm >/dev/null && [ "$(pnpm --version 2>/dev/null)" = "$PNPM_VERSION" ]; then return 0; fi
  log "installing pnpm@$PNPM_VERSION"
  as_root npm install -g --silent "pnpm@$PNPM_VERSION" >/dev/null
  hash -r
  [ "$(pnpm --version)" = "$PNPM_VERSION" ] || die "pnpm $PNPM_VERSION did not install (found $(pnpm --version 2>/dev/null || echo none))"
}

ensure_packages() {
  cd "$ROOT"
  log "installing workspace dependencies (frozen lockfile)"
  pnpm install --frozen-lockfile --reporter=silent
}

ensure_postgres() {
  [ -x "$PG_BIN/postgres" ] || apt_install "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" postgresql-contrib
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then return 0; fi
  id postgres >/dev/null 2>&1 || die "the postgres system user is missing: reinstall postgresql-$PG_MAJOR"
  as_root mkdir -p "$STATE_DIR"
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    log "creating a PostgreSQL $PG_MAJOR cluster in $PG_DATA"
    as_root mkdir -p "$PG_DATA"
    as_root chown postgres:postgres "$PG_DATA"
    as_root chmod 700 "$PG_DATA"
    as_root runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  log "starting PostgreSQL $PG_MAJOR on 127.0.0.1:$PG_PORT"
  as_root runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k /tmp -c max_connections=200 -c fsync=on" >/dev/null \
    || { tail -n 30 "$PG_DATA/server.log" >&2; die "PostgreSQL did not start (log above)"; }
}

ensure_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then return 0; fi
  as_root mkdir -p "$STATE_DIR/redis"
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  as_root redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save '' --appendonly no \
    --dir "$STATE_DIR/redis" --logfile "$STATE_DIR/redis/redis.log" --protected-mode yes >/dev/null
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "Redis did not start (see $STATE_DIR/redis/redis.log)"
}

ensure_test_tools() {
  # LibreOffice reads the workbooks sam-backup writes, as a person's spreadsheet program would.
  command -v soffice >/dev/null || apt_install libreoffice-calc-nogui
  # The addon's OWL components are tested in Debian's Chromium, driven by playwright-core.
  [ -x /usr/bin/chromium ] || apt_install chromium
  # Odoo compiles the addon's SCSS with libsass: the asset test does the same.
  /usr/bin/python3 -c 'import sass' 2>/dev/null || apt_install python3-libsass
}

export_env() {
  export SAM_TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  export SAM_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  export PATH="$PG_BIN:$PATH"
}

ensure_sqlite() {
  # The vectors component reads and backs up Chroma's chroma.sqlite3 with the sqlite3 shell.
  command -v sqlite3 >/dev/null || apt_install sqlite3
}

setup() {
  ensure_node
  ensure_pnpm
  ensure_postgres
  ensure_redis
  ensure_sqlite
  ensure_packages
  export_env
}

build() {
  cd "$ROOT"
  log "building"
  pnpm exec turbo run build --output-logs=errors-only
}

cmd="${1:-}"
shift || true
case "$cmd" in
  services)
    setup
    echo "SAM_TEST_PG_URL=$SAM_TEST_PG_URL"
    echo "SAM_TEST_REDIS_URL=$SAM_TEST_REDIS_URL"
    ;;
  demo)
    setup
    build
    cd "$ROOT"
    node packages/cli/dist/main.js demo --db-url "$SAM_TEST_PG_URL" "$@"
    ;;
  test)
    setup
    ensure_test_tools
    cd "$ROOT"
    log "lint (biome)"
    pnpm lint
    log "type-check (tsc --noEmit, every package)"
    pnpm exec turbo run typecheck --output-logs=errors-only
    build
    # The addon ships the compiled OWL components (it installs without Node): what is committed
    # must be what packages/odoo-ui builds.
    if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 &&
      [ -n "$(git -C "$ROOT" status --porcelain -- odoo_addon/sam_backup/static)" ]; then
      git -C "$ROOT" status --short -- odoo_addon/sam_backup/static >&2
      die "odoo_addon/sam_backup/static differs from what packages/odoo-ui builds: commit the result of pnpm build"
    fi
    log "tests (vitest, real PostgreSQL and Redis, Chromium)"
    status=0
    pnpm exec vitest run "$@" || status=$?
    node scripts/test-summary.mjs || true
    exit "$status"
    ;;
  stop)
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && as_root runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop || true
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave 2>/dev/null || true
    ;;
  *)
    echo "usage: bash scripts/dev.sh demo|test|services|stop" >&2
    exit 2
    ;;
esac
