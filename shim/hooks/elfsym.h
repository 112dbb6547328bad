/* elfsym.h: a defined symbol looked up in one loaded object's dynamic symbol table, by
 * reading the table in memory: no dlsym (the shim's own dlsym needs this to find the next
 * one), no lock, no allocation. */
#ifndef DETSHIM_ELFSYM_H
#define DETSHIM_ELFSYM_H
#include <link.h>

/* The address of `name` defined in the object loaded at `base` whose dynamic section is
 * `dyn` (its default version when it has several), or NULL (absent, undefined there, or an
 * IFUNC, whose resolver this does not run). */
void *ds_elf_lookup(uintptr_t base, const ElfW(Dyn) *dyn, const char *name);
#endif
