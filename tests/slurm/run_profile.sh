#!/usr/bin/env bash
# Run Snakemake targets through the shipped SLURM profile on a local single-node SLURM, then print every
# job the scheduler knows (scontrol show job) to JOBS_FILE. Daemons started here stop on exit.
#   tests/slurm/run_profile.sh WORKDIR JOBS_FILE TARGET...
set -euo pipefail
work=$1; jobs_file=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/cluster.sh"
trap slurm_down EXIT
slurm_up
cd "$work"
timeout -s KILL "${SLURM_TEST_TIMEOUT:-1200}" "${SNAKEMAKE:-snakemake}" --workflow-profile workflow/profiles/slurm \
  --configfile workflow/config/smoke.yaml --slurm-init-seconds-before-status-checks 2 "$@"
scontrol show job > "$jobs_file"
