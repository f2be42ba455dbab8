#!/usr/bin/env bash
# Prints what this node of the allocation has: run once per node by the sbatch-srun template.
echo "$(hostname): address $(hostname -I | awk '{print $1}'), GPUs ${CUDA_VISIBLE_DEVICES:-none}, job ${SLURM_JOB_ID:-?} node $((${SLURM_NODEID:-0} + 1))/${SLURM_NNODES:-?}"
