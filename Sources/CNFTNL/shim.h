#ifndef SETTLE_CNFTNL_SHIM_H
#define SETTLE_CNFTNL_SHIM_H
#ifdef __linux__
#include <stdint.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/gen.h>
#include <libnftnl/udata.h>
#endif
#endif
