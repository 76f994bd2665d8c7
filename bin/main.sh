#!/usr/bin/env bash
# Starts a whole hearsay cluster on this machine and a client for one user:
#
#   bin/main.sh [frontends=1] [replicas=3] [user=random 1..610] [--data FILE] [--port P] [--profile default|test]
#
# e.g. bin/main.sh 2 4 42   (2 front ends, 4 replicas, you are user 42)
#
# - Builds the project first if needed (bin/ensure-built.sh).
# - Logs go to .run/<timestamp>-<pid>/ (naming.log, fe1.log, rm1.log, ...);
#   the PIDs of the processes it started are in the folder's `pids` file.
# - Every replica is a voter (--voters rm1,...,rmM): they elect the primary that
#   sequences forced and immediate updates; its term, vote and log are kept in
#   the run folder's state/ (a fresh one per run, so every run starts at term 0).
# - A fresh cluster secret is handed to the processes through the environment
#   (HEARSAY_SECRET), never on a command line.
# - Waits until every front end and replica is registered, asking the naming
#   service, then runs the client: a prompt when stdin is a terminal, else the
#   commands piped in (one per line).
# - When the client ends, on Ctrl-C or SIGTERM, and on any start-up failure it
#   stops every process it started, by PID (TERM, then KILL after a grace).
# Exit status: the client's (0 ok, 1 a command failed), 1 if the cluster did
# not start, 2 for usage errors, 130/143 when interrupted.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
me="main.sh"
grace_s=2
startup_timeout_ms=20000

usage() {
  cat <<EOF
usage: bin/main.sh [frontends] [replicas] [user] [--data FILE] [--port P] [--profile default|test]

Starts a naming service, front ends fe1..feN and replicas rm1..rmM on this
machine, waits until all are registered, then runs the client as that user.

  frontends      number of front ends, 1 to 10 (default 1)
  replicas       number of replica managers, 1 to 20 (default 3)
  user           your user id, 1 to 2147483647 (default: random from 1 to 610)
  --data FILE    data file every replica starts from (default data/data.sqlite)
  --port P       port of the naming service (default 0: any free port)
  --profile P    timing profile: default or test (default: default)

Example: bin/main.sh 2 4 42
Commands piped in are run and the client exits: echo "avg 1" | bin/main.sh
EOF
}

usage_error() {
  echo "$me: $1" >&2
  usage >&2
  exit 2
}

if [ "${BASH_VERSINFO[0]}" -lt 5 ] || { [ "${BASH_VERSINFO[0]}" -eq 5 ] && [ "${BASH_VERSINFO[1]}" -lt 1 ]; }; then
  echo "$me: needs bash 5.1 or newer (this is $BASH_VERSION)" >&2
  exit 1
fi

# ---- arguments ---------------------------------------------------------------
positional=()
data=""
port=0
profile=default
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --data | --port | --profile)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case "$1" in
        --data) data="$2" ;;
        --port) port="$2" ;;
        --profile) profile="$2" ;;
      esac
      shift 2
      ;;
    --data=*) data="${1#*=}"; shift ;;
    --port=*) port="${1#*=}"; shift ;;
    --profile=*) profile="${1#*=}"; shift ;;
    --) shift; positional+=("$@"); break ;;
    -*) usage_error "unknown option $1" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -le 3 ] || usage_error "at most three numbers (frontends, replicas, user); got: ${positional[*]}"

frontends="${positional[0]:-1}"
replicas="${positional[1]:-3}"
user="${positional[2]:-$((RANDOM % 610 + 1))}"

# in_range VALUE LOW HIGH: VALUE is a whole number from LOW to HIGH
in_range() {
  [[ "$1" =~ ^[0-9]{1,10}$ ]] && [ "$((10#$1))" -ge "$2" ] && [ "$((10#$1))" -le "$3" ]
}
in_range "$frontends" 1 10 || usage_error "frontends must be a whole number from 1 to 10, got \"$frontends\""
in_range "$replicas" 1 20 || usage_error "replicas must be a whole number from 1 to 20, got \"$replicas\""
in_range "$user" 1 2147483647 || usage_error "user must be a whole number from 1 to 2147483647, got \"$user\""
in_range "$port" 0 65535 || usage_error "--port must be a whole number from 0 to 65535, got \"$port\""
frontends=$((10#$frontends)) replicas=$((10#$replicas)) user=$((10#$user)) port=$((10#$port))
case "$profile" in default | test) ;; *) usage_error "--profile must be default or test, got \"$profile\"" ;; esac
if [ -n "$data" ]; then
  [ -f "$data" ] && [ -r "$data" ] || usage_error "--data: cannot read \"$data\""
  data="$(cd "$(dirname "$data")" && pwd)/$(basename "$data")"
fi
port_taken_message="port $port is in use; choose another with --port or leave it out"
if [ "$port" -ne 0 ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "$me: $port_taken_message" >&2
  exit 1
fi

# ---- build -------------------------------------------------------------------
bash "$root/bin/ensure-built.sh" || { echo "$me: building hearsay failed (see above)" >&2; exit 1; }

# ---- bookkeeping and cleanup ---------------------------------------------------
t0=$(date +%s%N)
stamp="$(date +%Y%m%d-%H%M%S)-$$"
run="$root/.run/$stamp"
run_shown=".run/$stamp"
mkdir -p "$run" || { echo "$me: cannot create $run" >&2; exit 1; }

names=()   # component names, parallel to pids
pids=()
client_pid=""

record() { # record NAME PID
  names+=("$1")
  pids+=("$2")
  echo "$1 $2" >>"$run/pids"
}

name_of() {
  local i
  for i in "${!pids[@]}"; do
    [ "${pids[$i]}" = "$1" ] && { echo "${names[$i]}"; return; }
  done
  echo "pid $1"
}

# stop_all: TERM every process still running, KILL what is left after the grace; waits for all.
stop_all() {
  local alive=() p
  for p in ${client_pid:+"$client_pid"} "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null && alive+=("$p")
  done
  [ ${#alive[@]} -eq 0 ] && return 0
  kill -TERM "${alive[@]}" 2>/dev/null
  sleep "$grace_s" &
  local timer=$! done_pid rest
  while [ ${#alive[@]} -gt 0 ]; do
    done_pid=""
    wait -n -p done_pid "${alive[@]}" "$timer" 2>/dev/null
    if [ -z "$done_pid" ]; then break; fi
    if [ "$done_pid" = "$timer" ]; then
      echo "$me: $(for p in "${alive[@]}"; do name_of "$p"; done | tr '\n' ' ')did not stop within ${grace_s} s; killing" >&2
      kill -KILL "${alive[@]}" 2>/dev/null
      wait "${alive[@]}" 2>/dev/null
      timer=""
      break
    fi
    rest=()
    for p in "${alive[@]}"; do [ "$p" != "$done_pid" ] && rest+=("$p"); done
    alive=("${rest[@]}")
  done
  if [ -n "$timer" ]; then
    kill "$timer" 2>/dev/null
    wait "$timer" 2>/dev/null
  fi
  return 0
}

cleanup() {
  trap - EXIT INT TERM HUP
  stop_all
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# fail NAME WHY: a component failed during start-up; show its log and stop everything.
fail() {
  local log="$run/$1.log"
  echo "$me: $1 failed during start-up: $2" >&2
  if [ -s "$log" ]; then
    echo "--- last lines of $run_shown/$1.log ---" >&2
    tail -n 15 "$log" >&2
    echo "---" >&2
  fi
  exit 1
}

export HEARSAY_SECRET
HEARSAY_SECRET="$(head -c 24 /dev/urandom | base64)"

# ---- naming ---------------------------------------------------------------------
# Its stdout goes through a FIFO so its ready line (with the URL) is read as soon as it is printed.
mkfifo "$run/naming.out"
node "$root/dist/src/naming/main.js" --port "$port" --profile "$profile" >"$run/naming.out" 2>>"$run/naming.log" </dev/null &
record naming $!
exec {naming_fd}<"$run/naming.out"
ready=""
if ! IFS= read -r -t 10 -u "$naming_fd" ready; then
  if grep -qiE 'EADDRINUSE|in use' "$run/naming.log" 2>/dev/null; then
    echo "$me: $port_taken_message" >&2
    exit 1
  fi
  kill -0 "${pids[0]}" 2>/dev/null && fail naming "printed no ready line within 10 s" || fail naming "exited before it was ready"
fi
echo "$ready" >>"$run/naming.log"
naming_url="${ready##* ready at }"
[[ "$ready" == "hearsay naming "*" ready at http"* ]] || fail naming "unexpected first line: $ready"

# ---- front ends and replicas -----------------------------------------------------
want_names=()
voters="$(seq -s, -f 'rm%g' 1 "$replicas")"
mkdir -p "$run/state" || { echo "$me: cannot create $run/state" >&2; exit 1; }
for i in $(seq 1 "$replicas"); do
  node "$root/dist/src/replica/main.js" --naming "$naming_url" --name "rm$i" --profile "$profile" ${data:+--data "$data"} \
    --voters "$voters" --state-dir "$run/state" \
    >>"$run/rm$i.log" 2>&1 </dev/null {naming_fd}<&- &
  record "rm$i" $!
  want_names+=("rm$i")
done
for i in $(seq 1 "$frontends"); do
  node "$root/dist/src/frontend/main.js" --naming "$naming_url" --name "fe$i" --profile "$profile" \
    >>"$run/fe$i.log" 2>&1 </dev/null {naming_fd}<&- &
  record "fe$i" $!
  want_names+=("fe$i")
done

# Ask the naming service until all are registered (and replicas serving), with a deadline;
# meanwhile notice at once if any component dies.
node "$root/dist/src/client/wait.js" --naming "$naming_url" --frontends "$frontends" --replicas "$replicas" \
  --names "$(IFS=,; echo "${want_names[*]}")" --timeout-ms "$startup_timeout_ms" --profile "$profile" \
  >"$run/wait.out" 2>"$run/wait.err" </dev/null {naming_fd}<&- &
waiter=$!
done_pid=""
wait -n -p done_pid "${pids[@]}" "$waiter"
status=$?
if [ "$done_pid" != "$waiter" ]; then
  kill "$waiter" 2>/dev/null
  wait "$waiter" 2>/dev/null
  fail "$(name_of "$done_pid")" "it exited with status $status"
fi
if [ "$status" -ne 0 ]; then
  echo "$me: the cluster did not come up: $(sed 's/^wait: //' "$run/wait.err")" >&2
  for n in "${want_names[@]}"; do
    if ! grep -q ' ready at ' "$run/$n.log" 2>/dev/null; then
      echo "--- last lines of $run_shown/$n.log (not ready) ---" >&2
      tail -n 10 "$run/$n.log" >&2
    fi
  done
  exit 1
fi

t1=$(date +%s%N)
elapsed=$(awk -v ns="$((t1 - t0))" 'BEGIN { printf "%.2f", ns / 1e9 }')
fe_word=$([ "$frontends" -eq 1 ] && echo "front end" || echo "front ends")
rm_word=$([ "$replicas" -eq 1 ] && echo "replica" || echo "replicas")
echo "cluster up in $elapsed s: naming $naming_url, $frontends $fe_word, $replicas $rm_word; logs in $run_shown; you are user $user" >&2

# ---- the client --------------------------------------------------------------------
# In the background (stdin passed on explicitly) so Ctrl-C and SIGTERM reach our traps at once.
HEARSAY_UI_LOG="$run/client-ui.log" node "$root/dist/src/client/main.js" --naming "$naming_url" --user "$user" --profile "$profile" <&0 {naming_fd}<&- &
client_pid=$!
echo "client $client_pid" >>"$run/pids"
wait "$client_pid"
client_status=$?
client_pid=""
exit "$client_status"
