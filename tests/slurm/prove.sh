#!/usr/bin/env bash
# Proof that the workflow runs on a real SLURM cluster; .ci/run runs it (it needs root on
# Debian/Ubuntu). It installs slurm-wlm and munge when missing, starts munged, slurmctld and slurmd
# as a one-node cluster on loopback with a "cpu" and a "gpu" partition (the node declares one GPU as
# a generic resource, a stand-in device, so that GPU requests are scheduled as on a real cluster),
# runs a tiny workflow through `--profile profiles/slurm` and locally, and checks that both give the
# same Table 1 and that every deep training job asked SLURM for a GPU. The daemons are its own: it
# starts them with PID files under its work folder and stops them by PID when it ends, whatever
# happens; their logs stay there, and on a failure their last lines are printed.
#
#   sudo PYTHON=<clone>/.venv/bin/python bash tests/slurm/prove.sh      (from anywhere; PYTHON: the
#                                                                        environment's interpreter)
# The environment's bin folder need not be on PATH: the jobs run the interpreter Snakemake runs under.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/hashbench-slurm.XXXXXX)}
PYTHON=${PYTHON:-python3}
DAEMONS=$WORK/daemons
[ "$(id -u)" = 0 ] || { echo "prove.sh: needs root (it installs and starts slurmctld, slurmd, munged)" >&2; exit 2; }
mkdir -p "$DAEMONS"
START=$(date +%s)

stop_daemons() {
    local status=$?
    for pid in "$DAEMONS/slurmd.pid" "$DAEMONS/slurmctld.pid" "$DAEMONS/munge/munged.pid"; do
        [ -s "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    if [ "$status" != 0 ]; then
        for log in "$DAEMONS"/*.log "$DAEMONS"/munge/*.log; do
            [ -f "$log" ] && { echo "== last lines of $log" >&2; tail -n 20 "$log" >&2; }
        done
        echo "prove.sh: failed; the daemons' logs are in $DAEMONS" >&2
    fi
}
trap stop_daemons EXIT

echo "== slurm-wlm, munge and the executor plugin"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
"$PYTHON" -m pip install -q snakemake-executor-plugin-slurm 2>&1 | grep -v "^WARNING: Location" || true
"$PYTHON" -c "import snakemake_executor_plugin_slurm" || { echo "prove.sh: no snakemake-executor-plugin-slurm" >&2; exit 1; }

echo "== munged, slurmctld and slurmd on localhost (their own, PID files and logs in $DAEMONS)"
mkdir -p /etc/slurm "$DAEMONS/slurmctld" "$DAEMONS/slurmd" "$DAEMONS/munge"  # a fresh state: no earlier jobs
dd if=/dev/urandom bs=1 count=1024 of="$DAEMONS/munge/munge.key" 2>/dev/null
chown -R munge: "$DAEMONS/munge" 2>/dev/null || true
chmod 700 "$DAEMONS/munge" && chmod 400 "$DAEMONS/munge/munge.key"
SOCKET=$DAEMONS/munge/munge.socket
munged --force --key-file="$DAEMONS/munge/munge.key" --pid-file="$DAEMONS/munge/munged.pid" \
       --log-file="$DAEMONS/munge/munged.log" --seed-file="$DAEMONS/munge/munged.seed" --socket="$SOCKET"
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
cat > /etc/slurm/slurm.conf <<EOF
ClusterName=hashbench
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
StateSaveLocation=$DAEMONS/slurmctld
SlurmdSpoolDir=$DAEMONS/slurmd
SlurmctldPidFile=$DAEMONS/slurmctld.pid
SlurmdPidFile=$DAEMONS/slurmd.pid
SlurmctldLogFile=$DAEMONS/slurmctld.log
SlurmdLogFile=$DAEMONS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=3600
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
EOF
printf 'AutoDetect=off\nNodeName=localhost Name=gpu File=/dev/null\n' > /etc/slurm/gres.conf  # a stand-in device
slurmctld
slurmd
for _ in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo
sinfo -h -o %T | grep -q idle || { echo "prove.sh: the node never became idle" >&2; exit 1; }

TINY='{"protocols": ["digits"], "methods": ["ITQ", "HashNet"], "bits": [8, 16], "seeds": [0],
       "method_params": {"HashNet": {"iterations": 100}}, "tables": {"out": "results"}}'
run() {  # run <dir> <extra snakemake arguments...>: the environment's interpreter, its bin folder not on PATH
    local dir=$1; shift
    mkdir -p "$dir"
    echo "$TINY" > "$dir/tiny.yaml"
    (cd "$dir" && env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$PYTHON" -m snakemake -s "$ROOT/Snakefile" results/table1.csv \
        --configfile tiny.yaml "$@")
}

echo "== the tiny workflow through SLURM (submitted from a node without a GPU)"
run "$WORK/slurm" --profile "$ROOT/profiles/slurm" --default-resources slurm_partition=cpu runtime=10 mem_mb=1000 \
    --set-resources train_gpu:slurm_partition=gpu train_gpu:mem_mb=2000 train_gpu:runtime=10 \
    --set-threads train_gpu=1 --jobs 8 --latency-wait 5 --slurm-status-command squeue \
    --slurm-init-seconds-before-status-checks 1 --seconds-between-status-checks 2
echo "== the same workflow locally"
run "$WORK/local" --cores 2

echo "== comparing"
diff "$WORK/slurm/results/table1.csv" "$WORK/local/results/table1.csv"
echo "Table 1 through SLURM:"; cat "$WORK/slurm/results/table1.md"
echo "Table 1 locally: the same file ($WORK/local/results/table1.csv)"
# every deep training job went to the gpu partition and asked for a GPU (finished jobs stay for MinJobAge)
deep=0
while read -r job name partition; do
    case $name in *train_gpu*) ;; *) continue ;; esac
    tres=$(scontrol show job "$job" | grep -o "TresPerJob=[^ ]*" || true)
    echo "job $job ($name) on partition $partition: ${tres:-no GPU request}"
    [ "$partition" = gpu ] && [[ $tres == *gpu* ]] || { echo "prove.sh: job $job asked for no GPU" >&2; exit 1; }
    deep=$((deep + 1))
done < <(squeue --states=all -h -o "%i %k %P")  # %k: the comment, rule_<rule>_wildcards_...
[ "$deep" -eq 2 ] || { echo "prove.sh: expected 2 deep training jobs, found $deep" >&2; exit 1; }
echo "prove.sh: SLURM and local runs give the same Table 1; $deep deep training jobs asked for a GPU on the" \
     "gpu partition; $(( $(date +%s) - START )) s"
