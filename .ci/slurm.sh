#!/usr/bin/env bash
# A real single-node SLURM on localhost, then Snakemake through profiles/slurm: proves submission (sbatch), status
# tracking (squeue) and collection of outputs with the executor plugin CI installs (snakemake-executor-plugin-slurm).
#   .ci/slurm.sh             the micro study (tests/configs/micro.yaml, the lead's DAG) on SLURM, CPU only
#   .ci/slurm.sh --selftest  a throwaway 2-rule Snakefile (proves this script and the profile without the DAG)
# Needs root and apt (Debian's slurm-wlm + munge, --no-install-recommends). No systemd: munged, slurmctld and slurmd
# are started by hand with their state under a temp dir and stopped by pid on exit (see
# shared/reference/slurm-single-node.md for the measured recipe). Exits non-zero, printing the cause, on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
MODE="${1:-dag}"
t0=$SECONDS
say() { echo "[slurm.sh $((SECONDS - t0))s] $*"; }
die() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (apt-get, munged as user munge, slurmd)"

# --- packages -----------------------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null || die "apt-get install slurm-wlm munge"
fi
[ -f .venv/bin/activate ] || die "no .venv here: run .ci/run (or python -m venv .venv && pip install -e '.[test]')"
. .venv/bin/activate
python -c "import snakemake_executor_plugin_slurm" 2>/dev/null || python -m pip install -q "snakemake-executor-plugin-slurm==2.8.0"

# --- daemons --------------------------------------------------------------------------------------------------
STATE=$(mktemp -d -t slurm-ci.XXXXXX)
chmod 755 "$STATE"
PIDS=()
cleanup() {
  local rc=$?
  [ -n "${SMK_PID:-}" ] && kill -- "-$SMK_PID" 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    for f in "$STATE"/slurmctld.log "$STATE"/slurmd.log "$STATE"/snakemake.log \
             "$STATE"/work/.snakemake/slurm_logs/*/*.log "$STATE"/work/.snakemake/slurm_logs/*/*/*.log; do
      [ -f "$f" ] && { echo "--- tail $f"; tail -25 "$f"; }
    done
  fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -f "$STATE/munge/munged.pid" ] && kill "$(cat "$STATE/munge/munged.pid")" 2>/dev/null || true
  if [ -n "${CONF_WRITTEN:-}" ]; then
    if [ -f "$STATE/slurm.conf.orig" ]; then cp -p "$STATE/slurm.conf.orig" /etc/slurm/slurm.conf
    else rm -f /etc/slurm/slurm.conf; fi
  fi
  rm -rf "$STATE"
  exit $rc
}
trap cleanup EXIT

HOST=$(hostname -s)
[ -f /etc/munge/munge.key ] || die "/etc/munge/munge.key missing (the munge package creates it)"
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
mkdir -p "$STATE/munge" && chown munge:munge "$STATE/munge"    # munged writes its pid file as user munge
runuser -u munge -- /usr/sbin/munged --pid-file="$STATE/munge/munged.pid" --force || die "munged did not start"
munge -n | unmunge >/dev/null || die "munge round trip failed"

NODE_LINE=$(slurmd -C | head -1)                 # "NodeName=<host> CPUs=... RealMemory=..."
CPUS=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$NODE_LINE")
MEM=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$NODE_LINE")
MEM=$((MEM * 8 / 10))                            # leave headroom: slurmd drains a node that reports less
mkdir -p "$STATE/ctld" "$STATE/spool"
# The config must sit at the compiled-in path: srun inside a batch job ignores a SLURM_CONF exported by the
# submitter (it looks for /etc/slurm/slurm.conf, then DNS SRV records). An existing one is restored on exit.
SLURM_CONF_PATH=/etc/slurm/slurm.conf
mkdir -p /etc/slurm
[ -f "$SLURM_CONF_PATH" ] && cp -p "$SLURM_CONF_PATH" "$STATE/slurm.conf.orig"
CONF_WRITTEN=1
cat > "$SLURM_CONF_PATH" <<EOF
ClusterName=ci
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D >"$STATE/slurmctld.out" 2>&1 & PIDS+=($!)
slurmd -D >"$STATE/slurmd.out" 2>&1 & PIDS+=($!)
for _ in $(seq 1 60); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed)' && break
  sleep 1
done
sinfo -h -o %T | grep -qE '^(idle|mixed)' || die "node never became idle: $(sinfo 2>&1 | tail -2)"
say "SLURM up: node $HOST, $CPUS CPUs, ${MEM} MB, partition debug"

# --- workflow -------------------------------------------------------------------------------------------------
WORK="$STATE/work"
mkdir -p "$WORK"
export RLSCALING_SLURM_PARTITION=debug RLSCALING_GPU_PARTITION=debug
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
# The profile as shipped (partitions from the variables above); only the polling is made snappier for CI.
# Jobs run in the venv activated here (sbatch exports the environment).
OVERRIDES=(--jobs 2 --latency-wait 5 --slurm-init-seconds-before-status-checks 2)
if [ "$MODE" = "--selftest" ]; then
  cat > "$WORK/Snakefile" <<'EOF'
rule all:
    input: "b.txt"

rule a:
    output: "a.txt"
    shell: "hostname > {output}; echo job=$SLURM_JOB_ID >> {output}"

rule b:
    input: "a.txt"
    output: "b.txt"
    shell: "cat {input} > {output}; echo job=$SLURM_JOB_ID >> {output}"
EOF
  CMD=(snakemake --profile "$REPO/profiles/slurm" -s "$WORK/Snakefile" -d "$WORK" "${OVERRIDES[@]}")
  EXPECT=("$WORK/b.txt")
else
  [ -f tests/configs/micro.yaml ] || die "tests/configs/micro.yaml missing (run with --selftest until the DAG lands)"
  CMD=(snakemake --profile "$REPO/profiles/slurm" -s "$REPO/Snakefile" --configfile "$REPO/tests/configs/micro.yaml"
       -d "$WORK" "${OVERRIDES[@]}")
  EXPECT=("$WORK/results/summary.csv")
fi
say "running: ${CMD[*]}"
# Detached (own session) so its job-status polling is not tied to this shell's terminal.
setsid "${CMD[@]}" >"$STATE/snakemake.log" 2>&1 &
SMK_PID=$!
TIMEOUT_S=${SLURM_CI_TIMEOUT_S:-1500}
while kill -0 "$SMK_PID" 2>/dev/null; do
  (( SECONDS - t0 > TIMEOUT_S )) && die "snakemake still running after ${TIMEOUT_S}s"
  sleep 2
done
wait "$SMK_PID" && rc=0 || rc=$?
SMK_PID=""
[ $rc -eq 0 ] || die "snakemake exited $rc"
for f in "${EXPECT[@]}"; do [ -s "$f" ] || die "expected output $f missing"; done
submitted=$(grep -c "Job .* has been submitted with SLURM jobid" "$STATE/snakemake.log" || true)
[ "$submitted" -ge 1 ] || die "no job was submitted through sbatch"
grep -q "slurm_partition=debug" "$STATE/snakemake.log" || die "the profile's partition expression did not give 'debug'"
if [ "$MODE" = "--selftest" ]; then
  [ "$(grep -c '^job=[0-9]' "$WORK/b.txt")" = 2 ] || die "b.txt does not carry two SLURM job ids: $(cat "$WORK/b.txt")"
fi
say "PASS: $submitted jobs submitted via sbatch, tracked with squeue, outputs collected ($MODE)"
