#ifndef SLURM_DISTIL_CSLURM_SHIM_H
#define SLURM_DISTIL_CSLURM_SHIM_H

#include <stdio.h>
#include <stdlib.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

/*
 * The types of the libslurm functions slurm-distil looks up with dlsym, taken from the installed
 * headers so that a signature change fails the build instead of a call at run time.
 *
 * Only functions whose arguments are strings, integers, FILE* and opaque handles are used: their ABI
 * has stayed the same from 22.05 to 24.11, while structs such as node_info_t change layout with every
 * release. Slurm 23.11 turned hostlist_t from a pointer typedef into a struct, so the hostlist
 * functions take `hostlist_t` (22.05) or `hostlist_t *` (23.11 on): a pointer either way, which
 * Swift sees as an OpaquePointer with both headers.
 *
 * Functions that exist in one version only are not used: 24.11 dropped slurm_get_errno (errno is
 * set directly) and slurm_hostlist_ranged_string_malloc (slurm_hostlist_ranged_string, which fills
 * the caller's buffer, exists in both).
 */
typedef __typeof__(slurm_hostlist_create) *sd_hostlist_create_fn;
typedef __typeof__(slurm_hostlist_count) *sd_hostlist_count_fn;
typedef __typeof__(slurm_hostlist_shift) *sd_hostlist_shift_fn;
typedef __typeof__(slurm_hostlist_ranged_string) *sd_hostlist_ranged_fn;
typedef __typeof__(slurm_hostlist_push_host) *sd_hostlist_push_host_fn;
typedef __typeof__(slurm_hostlist_destroy) *sd_hostlist_destroy_fn;
typedef __typeof__(slurm_init) *sd_init_fn;
typedef __typeof__(slurm_load_node) *sd_load_node_fn;
typedef __typeof__(slurm_print_node_info_msg) *sd_print_node_info_msg_fn;
typedef __typeof__(slurm_free_node_info_msg) *sd_free_node_info_msg_fn;
typedef __typeof__(slurm_strerror) *sd_strerror_fn;

#endif
