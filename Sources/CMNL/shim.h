#ifndef SETTLE_CMNL_SHIM_H
#define SETTLE_CMNL_SHIM_H
#ifdef __linux__
#include <sys/socket.h>
/* glibc first: linux/libc-compat.h then leaves glibc's in_addr & co alone. */
#include <netinet/in.h>
#include <sched.h>
#include <linux/sched.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <libmnl/libmnl.h>

/* Not exported by Swift's Glibc module. */
int setns(int fd, int nstype);

/* Function-like macros do not import into Swift. */
static inline size_t settle_mnl_socket_buffer_size(void) { return MNL_SOCKET_BUFFER_SIZE; }
#endif
#endif
