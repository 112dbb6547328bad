/* guard.c: the per-thread reentrancy guard. Non-zero while the shim is on this thread's
 * stack (a policy, a resolution, a log write): hooked calls made from there go straight
 * to the vendor (detshim.h: ds_in_shim). Calls nothing. */
#include "detshim.h"

DS_TLS int ds_depth;
