/* layer_kernels_rt.c: placeholder until its layer lands. */
#include "detshim.h"
