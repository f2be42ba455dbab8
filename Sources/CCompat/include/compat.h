#ifndef SLURM_DISTIL_CCOMPAT_H
#define SLURM_DISTIL_CCOMPAT_H
/* Nothing to call: compat.c only provides link-time wrappers for the release binary (scripts/release). */
#endif
