#ifndef SLURM_DISTIL_CSLURM_SHIM_H
#define SLURM_DISTIL_CSLURM_SHIM_H

#include <stdlib.h>
#include <slurm/slurm.h>

/*
 * Slurm 23.11 turned hostlist_t from a pointer typedef into a struct, so Swift only ever sees an
 * opaque pointer: these wrappers are the whole host-list boundary and compile against both forms.
 * Strings returned by shift and ranged are malloc'd and must be released with free().
 */
static inline void *sd_hostlist_create(const char *hosts) { return (void *)slurm_hostlist_create(hosts); }
static inline int sd_hostlist_count(void *list) { return slurm_hostlist_count(list); }
static inline char *sd_hostlist_shift(void *list) { return slurm_hostlist_shift(list); }
static inline char *sd_hostlist_ranged(void *list) { return slurm_hostlist_ranged_string_malloc(list); }
static inline int sd_hostlist_push_host(void *list, const char *host) { return slurm_hostlist_push_host(list, host); }
static inline void sd_hostlist_destroy(void *list) { slurm_hostlist_destroy(list); }

#endif
