/* kerneldb.h: which kernels are nondeterministic.
 *
 * Three sources, combined once per process:
 *   1. the built-in database (shim/layers/kernels/kernels.db, embedded at build time),
 *   2. database files written by `detshim scan`, from DETSHIM_KERNELS=path[:path...],
 *   3. user patterns: DETSHIM_DENY adds kernels, DETSHIM_ALLOW removes them (allow wins
 *      over everything, so it is the one escape hatch strict mode points to).
 * Database format (one entry a line): `pattern<TAB>reason`; lines starting with '#' and
 * blank lines are ignored, except a line `#!advice TEXT`: TEXT says what to do about the
 * kernels of the entries after it (their events' "advice"), up to the next `#!advice` line
 * (`#!advice` alone: none); to other readers it is a comment. A pattern is an fnmatch(3)
 * glob (flags 0) matched against both the mangled and the demangled kernel name. A
 * malformed line or an unreadable file gives one message naming the file and the line;
 * everything else is still loaded. */
#ifndef DETSHIM_KERNELDB_H
#define DETSHIM_KERNELDB_H
#include <stdbool.h>
#include <stddef.h>

#include "detshim.h"

struct ds_kdb_entry {
    const char *pattern;
    const char *reason;
    const char *source; /* "built-in kernels.db", a file path, "DETSHIM_DENY", "DETSHIM_ALLOW" */
    int line;           /* line in a database file; 0 for user patterns */
    bool literal;       /* no glob character: plain string comparison */
    const char *advice; /* what to do instead ("#!advice" in a database file), or NULL */
};

struct ds_kdb {
    struct ds_kdb_entry *e;
    size_t n, cap;
    char **blocks; /* storage the entries point into */
    size_t nblocks, capblocks;
};

/* Receives one complete message (no "detshim: " prefix, no newline). */
typedef void (*ds_kdb_err_fn)(void *arg, const char *msg);

void ds_kdb_init(struct ds_kdb *db);
void ds_kdb_free(struct ds_kdb *db);
/* Parse text in the database format and append its entries. source names the text in
 * messages. Returns the number of malformed lines (each reported once through err). */
int ds_kdb_parse(struct ds_kdb *db, const char *text, size_t len, const char *source,
                 ds_kdb_err_fn err, void *arg);
/* Read and parse a file. Returns the number of malformed lines, or -1 when the file cannot
 * be read (reported through err; nothing of it is loaded). */
int ds_kdb_load_file(struct ds_kdb *db, const char *path, ds_kdb_err_fn err, void *arg);
/* Append the patterns of a user list: items separated by ',' or by a single ':' ("::", as
 * in demangled C++ names, stays inside a pattern); blanks around items and empty items
 * are ignored. Every entry gets source and, as its reason, "<source> pattern '<p>'".
 * Returns the number of patterns added. */
int ds_kdb_add_patterns(struct ds_kdb *db, const char *list, const char *source);
/* The first entry whose pattern matches the mangled or the demangled name (either may be
 * NULL), or NULL. */
const struct ds_kdb_entry *ds_kdb_match(const struct ds_kdb *db, const char *mangled,
                                        const char *demangled);

/* ---- classification ----------------------------------------------------------------- */
enum ds_kverdict {
    DS_KV_CLEAN,    /* no pattern matched */
    DS_KV_ALLOWED,  /* DETSHIM_ALLOW matched (whatever else matched too) */
    DS_KV_UNNAMED,  /* the kernel could not be named: not classified */
    DS_KV_DATABASE, /* a database entry (built-in or DETSHIM_KERNELS) matched */
    DS_KV_DENIED,   /* DETSHIM_DENY matched */
};
static inline bool ds_kverdict_flagged(enum ds_kverdict v)
{
    return v == DS_KV_DATABASE || v == DS_KV_DENIED;
}

struct ds_kclassifier {
    struct ds_kdb db, allow, deny;
    int builtin_entries, file_entries, bad_lines, bad_files;
};

void ds_kclassifier_init(struct ds_kclassifier *c);
void ds_kclassifier_free(struct ds_kclassifier *c);
/* Fill c from the built-in text and the environment (DETSHIM_KERNELS, DETSHIM_ALLOW,
 * DETSHIM_DENY read through get). */
void ds_kclassifier_load(struct ds_kclassifier *c, const char *builtin, size_t builtin_len,
                         ds_getenv_fn get, ds_kdb_err_fn err, void *arg);
/* allow > deny > database. *why gets the deciding entry (NULL when clean). */
enum ds_kverdict ds_kclassify(const struct ds_kclassifier *c, const char *mangled,
                              const char *demangled, const struct ds_kdb_entry **why);

/* The process-wide classifier, loaded on first use (messages go to stderr and the log). */
const struct ds_kclassifier *ds_kclassifier_global(void);

/* The built-in database text (generated from shim/layers/kernels/kernels.db). */
extern const char ds_kernels_db_builtin[];
extern const size_t ds_kernels_db_builtin_len;
#define DS_KDB_BUILTIN_SOURCE "built-in kernels.db"

#endif
