/* elfsym.c: ds_elf_lookup (elfsym.h). The GNU hash table when the object has one (every
 * object a current toolchain links), else the SysV table's symbol count and a linear scan.
 * It calls no libc function: the shim's dlsym may run before a sanitizer's runtime has
 * initialised, when its string interceptors cannot be called (and the build compiles this
 * file without instrumentation). */
#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elfsym.h"

struct dyninfo {
    const ElfW(Sym) *sym;
    const char *str;
    const uint32_t *gnu, *sysv;
    const ElfW(Half) *versym;
};

/* glibc relocates the dynamic section's addresses in place on most targets, not on all
 * (nor in the vDSO): an address below the load base is still an offset. */
static uintptr_t at(uintptr_t base, ElfW(Addr) v)
{
    return v < base ? base + v : v;
}

static bool same(const char *a, const char *b)
{
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

static void read_dynamic(uintptr_t base, const ElfW(Dyn) *d, struct dyninfo *di)
{
    di->sym = NULL;
    di->str = NULL;
    di->gnu = di->sysv = NULL;
    di->versym = NULL;
    for (; d->d_tag != DT_NULL; d++) {
        uintptr_t a = at(base, d->d_un.d_ptr);
        switch (d->d_tag) {
        case DT_SYMTAB: di->sym = (const ElfW(Sym) *)a; break;
        case DT_STRTAB: di->str = (const char *)a; break;
        case DT_GNU_HASH: di->gnu = (const uint32_t *)a; break;
        case DT_HASH: di->sysv = (const uint32_t *)a; break;
        case DT_VERSYM: di->versym = (const ElfW(Half) *)a; break;
        default: break;
        }
    }
}

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++) h = h * 33 + (unsigned char)*s;
    return h;
}

/* symbol i: the name wanted, defined here, data or code, and not a hidden version */
static void *accept(uintptr_t base, const struct dyninfo *di, uint32_t i, const char *name)
{
    const ElfW(Sym) *s = &di->sym[i];
    if (s->st_shndx == SHN_UNDEF || !same(di->str + s->st_name, name)) return NULL;
    unsigned type = ELF64_ST_TYPE(s->st_info);
    if (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE) return NULL;
    if (di->versym && (di->versym[i] & 0x8000)) return NULL;
    return (void *)(base + s->st_value);
}

void *ds_elf_lookup(uintptr_t base, const ElfW(Dyn) *dyn, const char *name)
{
    struct dyninfo di;
    if (!dyn) return NULL;
    read_dynamic(base, dyn, &di);
    if (!di.sym || !di.str) return NULL;
    if (di.gnu) {
        uint32_t nbuckets = di.gnu[0], symoffset = di.gnu[1], bloom_size = di.gnu[2];
        if (!nbuckets) return NULL;
        const ElfW(Addr) *bloom = (const ElfW(Addr) *)(const void *)&di.gnu[4];
        const uint32_t *buckets = (const uint32_t *)(const void *)&bloom[bloom_size];
        const uint32_t *chain = &buckets[nbuckets];
        uint32_t h = gnu_hash(name);
        uint32_t i = buckets[h % nbuckets];
        if (i < symoffset) return NULL;
        for (;; i++) {
            uint32_t c = chain[i - symoffset];
            if ((c | 1) == (h | 1)) {
                void *p = accept(base, &di, i, name);
                if (p) return p;
            }
            if (c & 1) return NULL;
        }
    }
    if (di.sysv) {
        uint32_t n = di.sysv[1];
        for (uint32_t i = 1; i < n; i++) {
            void *p = accept(base, &di, i, name);
            if (p) return p;
        }
    }
    return NULL;
}
