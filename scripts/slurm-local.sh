#!/usr/bin/env bash
# Start a real single-node Slurm cluster on this machine, for the Slurm backend of `emt sweep`
# (chapter "How general is the circuit?", paper Sec. 7) and `make test-slurm`.
#
#   sudo scripts/slurm-local.sh
#
# What it does, as root on Debian/Ubuntu:
#   1. installs slurm-wlm and munge with apt-get if slurmctld, slurmd or munged is missing;
#   2. creates a munge key if there is none and starts munged (as the munge user);
#   3. writes /etc/slurm/slurm.conf for one node, this host, with the CPU count and memory that
#      slurmd detects (`slurmd -C`), one partition "$PARTITION" (default: local), no accounting,
#      ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, SelectType=select/cons_tres with
#      CPUs (not memory) as the consumable resource; state, spool and logs under /var/lib/emt-slurm,
#      /var/log/emt-slurm and /run/emt-slurm;
#   4. starts slurmctld and slurmd, waits until `sinfo` shows the node idle, and prints `sinfo`.
#
# Idempotent: a second run leaves running daemons alone when the configuration is unchanged (it
# restarts the two Slurm daemons it started if the configuration changed). It refuses to overwrite a
# slurm.conf that it did not write itself unless FORCE=1. Stop the cluster with STOP=1.
set -euo pipefail

PARTITION=${PARTITION:-local}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARKER="# Written by emt scripts/slurm-local.sh"
STATE=/var/lib/emt-slurm
LOGS=/var/log/emt-slurm
RUN=/run/emt-slurm
WAIT_S=${WAIT_S:-90}

say() { echo "slurm-local: $*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts daemons)"

# Is the process whose id is in pid file $1 alive?
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_slurm() {
    local name pidfile
    for name in slurmd slurmctld; do
        pidfile=$RUN/$name.pid
        if alive "$pidfile"; then
            say "stopping $name (pid $(cat "$pidfile"))"
            kill "$(cat "$pidfile")"
            for _ in $(seq 50); do alive "$pidfile" || break; sleep 0.2; done
        fi
    done
}

if [ "${STOP:-0}" = 1 ]; then
    stop_slurm
    exit 0
fi

# 1. packages ----------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v munged >/dev/null || ! command -v sinfo >/dev/null; then
    say "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends slurm-wlm munge
fi

# 2. munge -------------------------------------------------------------------------------------
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    say "creating a munge key"
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.2; done
    munge -n | unmunge >/dev/null || die "munged does not answer (see /var/log/munge/munged.log)"
fi

# 3. slurm.conf --------------------------------------------------------------------------------
HOST=$(hostname -s)
# The node line as slurmd detects the hardware: CPUs, sockets, cores, threads, RealMemory.
NODE=$(slurmd -C 2>/dev/null | grep -m1 '^NodeName=' || true)
if [ -z "$NODE" ]; then
    MEM=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
    NODE="NodeName=$HOST CPUs=$(nproc --all) RealMemory=$MEM"
fi
NODE=$(echo "$NODE" | sed -E "s/^NodeName=[^ ]+/NodeName=$HOST/")

NEW_CONF=$(cat <<EOF
$MARKER: a single-node cluster on this machine.
ClusterName=emtlocal
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=60
MaxArraySize=10001
$NODE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
)

CHANGED=0
if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
    [ "${FORCE:-0}" = 1 ] || die "$CONF exists and was not written by this script; FORCE=1 overwrites it"
fi
if [ ! -e "$CONF" ] || [ "$(cat "$CONF")" != "$NEW_CONF" ]; then
    install -d -m 0755 "$CONF_DIR"
    printf '%s\n' "$NEW_CONF" > "$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
    CHANGED=1
    say "wrote $CONF"
fi

# 4. daemons -----------------------------------------------------------------------------------
install -d -m 0755 "$STATE/ctld" "$STATE/d" "$LOGS" "$RUN"
if [ "$CHANGED" = 1 ]; then
    stop_slurm
fi
if ! alive "$RUN/slurmctld.pid"; then
    say "starting slurmctld"
    /usr/sbin/slurmctld
fi
if ! alive "$RUN/slurmd.pid"; then
    say "starting slurmd"
    /usr/sbin/slurmd
fi

state=""
for _ in $(seq $((WAIT_S * 2))); do
    state=$(sinfo --noheader --nodes="$HOST" --format=%T 2>/dev/null | head -n1 || true)
    case "$state" in
        idle|mixed|allocated) break ;;
        down*|drain*|drained*) scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 0.5
done
case "$state" in
    idle|mixed|allocated) ;;
    *) sinfo >&2 || true
       die "node $HOST is '${state:-not answering}' after ${WAIT_S}s (logs in $LOGS)" ;;
esac
sinfo
