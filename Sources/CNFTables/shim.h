#ifndef SETTLE_CNFTABLES_SHIM_H
#define SETTLE_CNFTABLES_SHIM_H
#ifdef __linux__
#include <stdio.h>
#include <nftables/libnftables.h>
#endif
#endif
