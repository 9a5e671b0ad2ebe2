#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try launcher=slurm without a real cluster:
#   sudo bash scripts/local_slurm.sh up     # then: export SLURM_CONF=<the line it prints>
#   sudo bash scripts/local_slurm.sh down   # stops what "up" started, by pid
# Installs Debian's slurm-wlm and munge with apt-get when missing. Everything it writes
# (slurm.conf, munge key and socket, logs, pid files) stays in LOCAL_SLURM_DIR
# (/tmp/local-slurm): /etc/slurm and a system munged are left alone. One node only, so a
# job asking for 2 nodes stays pending here.
set -euo pipefail

DIR=${LOCAL_SLURM_DIR:-/tmp/local-slurm}
NODE=$(hostname -s)
# The requeued job waits this long before it starts again (SLURM's default: 120 s).
CRED_EXPIRE=10

fail() {
    echo "error: $*" >&2
    exit 1
}

install_missing() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null &&
        return
    [ "$(id -u)" -eq 0 ] || fail "slurm-wlm and munge are not installed; run this as root to install them"
    command -v apt-get >/dev/null || fail "slurm-wlm and munge are not installed, and there is no apt-get to install them"
    echo "installing slurm-wlm and munge with apt-get"
    # A fresh machine (a CI runner, a container) has no package lists yet.
    apt-get update -qq >/dev/null || fail "apt-get update failed; check the machine's network"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null ||
        fail "apt-get install slurm-wlm munge failed"
}

write_conf() {
    # slurmd -C describes this machine's CPUs and memory as a NodeName line.
    local node_line
    node_line=$(slurmd -C | head -n 1)
    cat >"$DIR/slurm.conf" <<EOF
ClusterName=local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=$CRED_EXPIRE
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldPort=${LOCAL_SLURM_PORT:-6817}
SlurmdPort=$((${LOCAL_SLURM_PORT:-6817} + 1))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=5
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    mkdir -p "$DIR/munge"
    chmod 700 "$DIR/munge"
    [ -f "$DIR/munge/munge.key" ] || {
        dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
        chmod 400 "$DIR/munge/munge.key"
    }
    # --force: munged refuses root without it; the key and socket here are root's alone.
    munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" \
        --seed-file="$DIR/munge/munged.seed"
}

running() {
    [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

up() {
    install_missing
    [ "$(id -u)" -eq 0 ] || fail "slurmd runs jobs as any user, so it starts only as root; run this as root (sudo)"
    running "$DIR/slurmctld.pid" && fail "a local cluster is already up in $DIR; run: $0 down"
    # A fresh start: no jobs left over from an earlier cluster in this folder.
    rm -rf "$DIR/state" "$DIR/spool"
    mkdir -p "$DIR/state" "$DIR/spool"
    write_conf
    export SLURM_CONF=$DIR/slurm.conf
    start_munge
    slurmctld
    slurmd
    for _ in $(seq 60); do
        if sinfo -h -N -o %t 2>/dev/null | grep -qx idle; then
            echo "local SLURM is up (node $NODE, logs in $DIR). Point SLURM's commands at it with:"
            echo "export SLURM_CONF=$DIR/slurm.conf"
            return
        fi
        sleep 1
    done
    down >/dev/null
    fail "the node did not become idle within 60 s; see $DIR/slurmctld.log and $DIR/slurmd.log"
}

stop() {
    local pid_file=$DIR/$1.pid pid
    running "$pid_file" || return 0
    pid=$(cat "$pid_file")
    kill "$pid"
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$pid_file"
}

down() {
    # Jobs first, while slurmd can still end them; then the daemons, by their own pid files.
    if running "$DIR/slurmctld.pid"; then
        export SLURM_CONF=$DIR/slurm.conf
        scancel --quiet --user="$(id -un)" 2>/dev/null || true
        for _ in $(seq 30); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    stop slurmd
    stop slurmctld
    stop munged
    echo "local SLURM is down"
}

case ${1:-} in
up) up ;;
down) down ;;
*) fail "usage: $0 up|down" ;;
esac
