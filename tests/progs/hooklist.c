/* Prints every hooked symbol of the hook table, one per line: the tests compare it
 * with the library's dynamic symbol table. */
#include <stdio.h>

#include "detshim.h"

int main(void)
{
    for (int i = 0; i < DS_HOOK_COUNT; i++) printf("%s %s %s\n", ds_hooks[i].name,
                                                   ds_layers[ds_hooks[i].layer].name,
                                                   ds_libs[ds_hooks[i].lib].prefix);
    return 0;
}
