/* layer_torch.c: placeholder until its layer lands. */
#include "detshim.h"
