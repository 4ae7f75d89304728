#!/usr/bin/env bash
# A single-node SLURM with accounting (munge, MariaDB, slurmdbd, slurmctld, slurmd) on localhost, for the
# test of the shipped SLURM profile. Needs root and Debian's packages (.ci/run installs them).
#   source tests/slurm/cluster.sh; slurm_up; trap slurm_down EXIT
# slurm_up starts only daemons that are not running and records them; slurm_down stops those, by PID.
SLURM_STARTED=${SLURM_STARTED:-$(mktemp /tmp/vhp-slurm-started.XXXXXX)}

_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
_waitfor() { for _ in $(seq 1 120); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done; echo "timeout: $*" >&2; return 1; }
_start() {  # pidfile, command...: start a daemon unless it runs, and record its pidfile
  local pidfile=$1; shift
  _alive "$pidfile" && return 0
  "$@"
  _waitfor test -s "$pidfile"
  echo "$pidfile" >> "$SLURM_STARTED"
}

slurm_up() {
  install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  _start /run/munge/munged.pid su -s /bin/sh munge -c /usr/sbin/munged

  install -d /etc/slurm /run/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  install -d -o mysql -g mysql /run/mysqld
  _start /run/mysqld/mysqld.pid sh -c '/usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
      --pid-file=/run/mysqld/mysqld.pid >/var/log/slurm/mariadb.log 2>&1 &'
  _waitfor mysqladmin ping
  mysql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
            CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmci';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
  cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=/run/slurm/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmci
StorageLoc=slurm_acct_db
CONF
  chmod 600 /etc/slurm/slurmdbd.conf
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(free -m | awk '/^Mem:/{print $2}') * 9 / 10 ))
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
MinJobAge=3600
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  _start /run/slurm/slurmdbd.pid /usr/sbin/slurmdbd
  _waitfor sacctmgr -n list cluster
  _start /run/slurm/slurmctld.pid /usr/sbin/slurmctld -c   # -c: no jobs left over from an earlier start
  _start /run/slurm/slurmd.pid /usr/sbin/slurmd -N localhost
  _waitfor sh -c "sinfo -h -o '%T' | grep -qx idle"
}

slurm_down() {  # the daemons slurm_up started, last first, by PID: SIGTERM, then SIGKILL after 15 s
  [ -s "$SLURM_STARTED" ] || { rm -f "$SLURM_STARTED"; return 0; }
  tac "$SLURM_STARTED" | while read -r pidfile; do
    [ -s "$pidfile" ] || continue
    local pid; pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
  done
  rm -f "$SLURM_STARTED"
}
