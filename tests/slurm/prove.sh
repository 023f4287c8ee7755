#!/usr/bin/env bash
# Proof that the workflow runs on a real SLURM cluster (opt-in: needs root on Debian/Ubuntu and
# about 5 minutes; not part of `make test`). It installs slurm-wlm and munge, starts a one-node
# cluster on loopback with a "cpu" and a "gpu" partition (the node declares one GPU as a generic
# resource, so deep jobs' --gpus=1 requests are scheduled as on a real cluster), runs the tiny
# workflow through `--profile profiles/slurm` and locally, and checks that both give the same
# Table 1. (Without slurmdbd, sacct cannot report job states, so job states come from squeue.)
#
#   sudo bash tests/slurm/prove.sh            (from the repository root, in the hashbench environment)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/hashbench-slurm.XXXXXX)}
PYTHON=${PYTHON:-python}
[ "$(id -u)" = 0 ] || { echo "prove.sh: needs root (it installs and starts slurmctld, slurmd, munged)" >&2; exit 2; }

echo "== installing slurm-wlm, munge and the executor plugin"
if ! command -v slurmctld >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
"$PYTHON" -m pip install -q snakemake-executor-plugin-slurm

echo "== starting munge and a one-node cluster on localhost"
mkdir -p /etc/munge /var/run/munge /var/log/munge /var/spool/slurmctld /var/spool/slurmd /etc/slurm
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
chown -R munge: /etc/munge /var/run/munge /var/log/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || munged --force
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
cat > /etc/slurm/slurm.conf <<EOF
ClusterName=hashbench
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
EOF
printf 'AutoDetect=off\nNodeName=localhost Name=gpu File=/dev/null\n' > /etc/slurm/gres.conf  # a stand-in device
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo

TINY='{"protocols": ["digits"], "methods": ["ITQ", "LSH", "HashNet"], "bits": [8, 16], "seeds": [0],
       "method_params": {"HashNet": {"iterations": 20}}}'
run() {  # run <dir> <extra snakemake arguments...>
    local dir=$1; shift
    mkdir -p "$dir"
    echo "$TINY" > "$dir/tiny.yaml"
    (cd "$dir" && "$PYTHON" -m snakemake -s "$ROOT/Snakefile" --configfile tiny.yaml "$@" results/table1.csv)
}

echo "== the tiny workflow through SLURM"
run "$WORK/slurm" --profile "$ROOT/profiles/slurm" --default-resources slurm_partition=cpu runtime=10 mem_mb=1000 \
    --set-resources train_gpu:slurm_partition=gpu train_gpu:mem_mb=2000 train_gpu:runtime=10 \
    --set-threads train_gpu=1 --jobs 4 --slurm-status-command squeue --slurm-init-seconds-before-status-checks 5
echo "== the same workflow locally"
run "$WORK/local" --cores 2

echo "== comparing"
diff "$WORK/slurm/results/table1.csv" "$WORK/local/results/table1.csv"
# the deep jobs went to the gpu partition and asked for a GPU (finished jobs stay visible for MinJobAge)
gpu_jobs=$(squeue --states=all -h -o "%i %P" | awk '$2 == "gpu" {print $1}')
for job in $gpu_jobs; do
    scontrol show job "$job" | grep -q "TresPerJob=gres:gpu:1" || { echo "prove.sh: job $job asked for no GPU" >&2; exit 1; }
done
[ "$(echo $gpu_jobs | wc -w)" -ge 2 ] || { echo "prove.sh: expected 2 deep jobs on the gpu partition" >&2; exit 1; }
echo "prove.sh: SLURM and local runs give the same Table 1 ($WORK/*/results/table1.csv);" \
     "$(echo $gpu_jobs | wc -w) deep jobs ran on the gpu partition with --gpus=1"
