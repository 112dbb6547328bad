/* layer_kernels_drv.c: placeholder until its layer lands. */
#include "detshim.h"
