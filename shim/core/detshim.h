/* detshim.h: the small internal API the layers share: the core's services.
 *
 * Data flows one way: environment -> config -> a hook -> the layer's policy ->
 * the real vendor function -> the log.  The core (this header and the files
 * that implement it) knows no vendor library; layers never include each other.
 * Calls go one way, hooks -> layers -> core -> the table; inside the core, each file
 * calls only the files listed above it in docs/architecture.md (the "core floors"
 * test checks the objects' symbols for that).
 */
#ifndef DETSHIM_H
#define DETSHIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DETSHIM_API __attribute__((visibility("default")))
#define DS_LIKELY(x) __builtin_expect(!!(x), 1)
#define DS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define DS_TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- ids derived from the tables ------------------------------------------------ */
enum ds_layer {
#define LAYER(id, name, what) DS_LAYER_##id,
#include "layers.def"
    DS_LAYER_COUNT
};

enum ds_lib {
#define LIB(id, prefix, sonames, missing) DS_LIB_##id,
#include "libs.def"
    DS_LIB_COUNT
};

enum ds_hook {
#define HOOK(layer, lib, ret, name, params, args) DS_HOOK_##name,
#include "hooks.def"
    DS_HOOK_COUNT
};

struct ds_hook_info {
    const char *name;
    enum ds_layer layer;
    enum ds_lib lib;
};
extern const struct ds_hook_info ds_hooks[DS_HOOK_COUNT];

struct ds_lib_info {
    const char *prefix;
    const char *sonames; /* ':'-separated */
};
extern const struct ds_lib_info ds_libs[DS_LIB_COUNT];

struct ds_layer_info {
    const char *name;
    const char *what;
};
extern const struct ds_layer_info ds_layers[DS_LAYER_COUNT];

/* ---- configuration (config.c) ----------------------------------------------------- */
enum ds_mode { DS_MODE_OFF, DS_MODE_LOG, DS_MODE_ENFORCE, DS_MODE_STRICT };

#define DS_PATH_MAX 4096
#define DS_MAX_FRAMES 64

struct ds_config {
    enum ds_mode mode;
    unsigned disabled;            /* bit per enum ds_layer */
    int verbose;                  /* 0 quiet, 1 notices on stderr, 2 trace every hooked call */
    int stack_depth;              /* frames kept per call site, 1..DS_MAX_FRAMES */
    char log_template[DS_PATH_MAX];
    bool log_template_set;        /* DETSHIM_LOG was given */
    bool secure;                  /* secure execution (AT_SECURE): fully passive and silent */
};

typedef const char *(*ds_getenv_fn)(const char *name);
const char *ds_libc_getenv(const char *name);

/* Parse the environment into cfg. Every malformed value produces one message on
 * err_fd naming the variable, the value and the accepted values, and the safe
 * default is kept. Returns the number of malformed values. */
int ds_config_parse(struct ds_config *cfg, ds_getenv_fn get, int err_fd);
int ds_parse_mode(const char *s, enum ds_mode *out);
int ds_parse_layers(const char *s, unsigned *mask, char *bad, size_t badsz);
int ds_parse_bool(const char *s, bool *out);
const char *ds_mode_name(enum ds_mode m);

/* The process-wide configuration, read once (in the constructor, or lazily). */
extern struct ds_config ds_cfg;
/* Bit per layer: set when the layer's policy runs (mode != off and not disabled). */
extern _Atomic unsigned ds_active_layers;
void ds_config_init(void);
/* The configuration for secure execution (passive, silent) or from the environment. */
void ds_config_apply(bool secure);

static inline bool ds_layer_active(enum ds_layer l)
{
    return (atomic_load_explicit(&ds_active_layers, memory_order_relaxed) >> l) & 1u;
}
static inline bool ds_enforcing(void)
{
    return ds_cfg.mode >= DS_MODE_ENFORCE;
}

/* ---- reentrancy guard (guard.c) ---------------------------------------------------- */
extern DS_TLS int ds_depth;
static inline bool ds_in_shim(void) { return ds_depth > 0; }

/* ---- finding symbols (resolve.c) ---------------------------------------------------- */
enum ds_resolved_by { DS_BY_NONE, DS_BY_NEXT, DS_BY_SONAME, DS_BY_SCAN };
/* Resolve any symbol of a known library, in the documented order, never returning
 * a definition that lives in a copy of the shim. */
void *ds_resolve_symbol(const char *name, enum ds_lib lib, enum ds_resolved_by *how);
const char *ds_resolved_by_name(enum ds_resolved_by how);
/* Only the library's known sonames (RTLD_NOLOAD): cheap, for functions the shim calls
 * itself (never a hooked name). */
void *ds_lookup_soname(const char *name, enum ds_lib lib);

/* ---- the real function of each hook (realfn.c) -------------------------------------- */
extern _Atomic(void *) ds_real_ptr[DS_HOOK_COUNT];
/* Resolve, cache and pin a hook's real function (the notice at DETSHIM_VERBOSE=2). */
void *ds_resolve_hook(enum ds_hook id);
/* Called by a wrapper whose real function cannot be found (logs once). */
void ds_missing(enum ds_hook id);
/* A function of lib that a layer calls itself (never a hooked one), found once and cached
 * in *cache (a notice when it is missing). */
void *ds_lib_sym(_Atomic(void *) *cache, const char *name, enum ds_lib lib, const char *layer);

static inline void *ds_real(enum ds_hook id)
{
    void *p = atomic_load_explicit(&ds_real_ptr[id], memory_order_acquire);
    return DS_LIKELY(p != NULL) ? p : ds_resolve_hook(id);
}

/* ---- JSON writer into a fixed buffer (json.c) -------------------------------------- */
struct jbuf {
    char *p;
    size_t len, cap;
    bool overflow;
    bool need_comma;
};
void jb_init(struct jbuf *jb, char *mem, size_t cap);
void jb_raw(struct jbuf *jb, const char *s);
void jb_obj_begin(struct jbuf *jb);
void jb_obj_end(struct jbuf *jb);
void jb_arr_begin(struct jbuf *jb, const char *key);
void jb_arr_end(struct jbuf *jb);
void jb_key(struct jbuf *jb, const char *key);
void jb_str(struct jbuf *jb, const char *key, const char *val); /* val NULL -> null */
void jb_strn(struct jbuf *jb, const char *key, const char *val, size_t n);
void jb_int(struct jbuf *jb, const char *key, long long v);
void jb_uint(struct jbuf *jb, const char *key, unsigned long long v);
void jb_hex(struct jbuf *jb, const char *key, unsigned long long v);
void jb_bool(struct jbuf *jb, const char *key, bool v);
void jb_null(struct jbuf *jb, const char *key);
/* Finish a record: appends '\n'. Returns false when it did not fit. */
bool jb_finish(struct jbuf *jb);

/* ---- log file (log.c) ------------------------------------------------------------- */
enum ds_action { DS_ACT_OBSERVED, DS_ACT_FORCED, DS_ACT_BLOCKED };
const char *ds_action_name(enum ds_action a);
/* Open the log at the configured path (once); true when it is open for writing. */
bool ds_log_open(void);
bool ds_log_is_open(void);
const char *ds_log_path(void);
/* Write one whole record (one write(2)); false when the log is not open or the write
 * failed (then nothing of the record is left in the file). */
bool ds_log_write(const char *rec, size_t len);
/* Give the log up for this process (its header could not be written). */
void ds_log_abandon(void);
/* One line on stderr ("detshim: ..." is the caller's), nothing else. */
void ds_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The common opening of every record after the header: type, seq, t, pid, tid. */
void ds_record_begin(struct jbuf *jb, const char *type);
void ds_log_atfork_child(void);

/* ---- files the shim writes and reads (privfile.c) ----------------------------------- */
/* Open path for appending, private: created 0600 (O_EXCL|O_NOFOLLOW), or an existing
 * regular file owned by the effective user with one link (truncated when asked); never a
 * FIFO, device, symbolic link or someone else's file; the descriptor is above 2.
 * -1 with the reason in why. *created tells whether this call made the file. */
int ds_file_open_private(const char *path, bool truncate, bool *created, char *why, size_t whysz);
/* Open path for reading when it is a regular file (never blocks on a FIFO). */
int ds_file_open_read(const char *path, char *why, size_t whysz);

/* ---- log path templates (logpath.c) ------------------------------------------------- */
/* Expand a log template (%p pid, %r rank, %h host, %% percent). -1 on a bad escape. */
int ds_expand_template(const char *tmpl, char *out, size_t outsz, const char *host,
                       long pid, const char *rank);
/* The rank of this process from RANK/SLURM_PROCID/OMPI_COMM_WORLD_RANK/PMI_RANK/PMIX_RANK. */
const char *ds_rank(ds_getenv_fn get);

/* ---- the log's opening and header (header.c) ----------------------------------------- */
/* Make sure this process's log exists and holds its header: one load once settled. */
extern _Atomic int ds_log_settled;
void ds_log_touch_slow(void);
static inline bool ds_log_is_settled(void)
{
    return atomic_load_explicit(&ds_log_settled, memory_order_acquire) != 0;
}
static inline void ds_log_touch(void)
{
    if (DS_LIKELY(atomic_load_explicit(&ds_log_settled, memory_order_acquire))) return;
    ds_log_touch_slow();
}
/* A record is about to be written: open the log now if it was deferred (a forked child
 * opens its own at its first record). */
void ds_log_need(void);
void ds_header_atfork_child(void);
/* A notice: free text, also printed on stderr when verbose (or when loud); from inside a
 * hooked call it is a log record too (and opens the log like any record). */
void ds_notice(const char *layer, bool loud, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Every core fork-child reset at once (hooks/init.c; the unit tests call it too). */
void ds_core_atfork_child(void);

/* ---- the exit summary (summary.c) ------------------------------------------------- */
void ds_summary_write(void);
void ds_summary_reset(void);
/* Per-hook call counters for the summary. */
extern _Atomic uint64_t ds_hook_calls[DS_HOOK_COUNT];

/* Header content providers (fingerprint.c). */
void ds_fingerprint_header(struct jbuf *jb);
void ds_fingerprint_device(void); /* once CUDA is initialised: writes a "device" record */
void ds_fingerprint_reset(void);  /* fork child: its new log needs the record again */

/* ---- environment pins (pins.c) ------------------------------------------------------ */
void ds_pins_apply(void);                 /* constructor, enforce/strict only */
void ds_pins_header(struct jbuf *jb);     /* "pins":[...] for the header */

/* ---- the loader, walked safely, and this copy's place (loader.c) ------------------- */
/* Set up the fork gate's handlers (constructor, once). */
void ds_loader_init(void);
/* Stack walks, walks of the loaded objects and dlopen/dlclose (which a sanitizer's runtime
 * turns into such walks) are kept apart from fork: a child would inherit the loader's
 * object-list lock held, or libunwind's, and hang at its first stack capture. Nestable. */
void ds_fork_gate_enter(void);
void ds_fork_gate_leave(void);
/* dl_iterate_phdr inside that gate. */
struct dl_phdr_info;
int ds_loader_walk(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg);
/* True when addr lies inside this copy of the shim. */
bool ds_addr_is_self(const void *addr);
void ds_self_init(void);

/* ---- backtraces (backtrace.c) ------------------------------------------------------- */
/* Raw return addresses of the caller's stack, frames inside the shim dropped. */
int ds_bt_capture(void **ips, int max);
/* Symbolise (module, offset, demangled function) into a JSON array named key. */
void ds_bt_render(struct jbuf *jb, const char *key, void *const *ips, int n);
/* Symbolise one address into its parts; returns false when nothing is known. */
struct ds_sym {
    char module[512];
    uintptr_t offset;
    char function[512];
    char mangled[512];
};
bool ds_bt_symbolize(const void *ip, struct ds_sym *out);
/* A C++ name demangled (malloc'd; free it), or NULL when it is not mangled or no
 * libstdc++ is loaded (the shim never loads one). Thread-safe. */
char *ds_demangle(const char *mangled);

/* ---- events and call sites (event.c) ------------------------------------------------ */
struct ds_event {
    enum ds_hook hook;
    enum ds_layer layer;
    enum ds_action action;
    uint64_t subject;  /* what, beside the stack, makes a site distinct (a kernel, an algo) */
    uint64_t site;     /* the call-site id */
    void *ips[DS_MAX_FRAMES];
    int nips;
    uint64_t count;    /* how many times this site has been hit, this one included */
};
/* Capture the stack, count the site. Returns true the first time this site is seen:
 * the caller then renders its detail and calls ds_event_log. */
bool ds_event_capture(struct ds_event *ev, enum ds_hook hook, enum ds_action action,
                      uint64_t subject);
/* Write the event record. extra (may be NULL) adds fields of the layer's own. */
typedef void (*ds_extra_fn)(struct jbuf *jb, void *arg);
void ds_event_log(const struct ds_event *ev, const char *detail, ds_extra_fn extra, void *arg);
/* Both at once, for events whose detail is a plain string. */
void ds_event(enum ds_hook hook, enum ds_action action, uint64_t subject, const char *detail);
/* Strict mode: one clear paragraph on stderr naming the call, its stack, and how to
 * allow it (allow: e.g. "DETSHIM_ALLOW='kernel*'"). The caller then returns an error. */
void ds_refuse(const struct ds_event *ev, const char *what, const char *allow);
void ds_sites_reset(void);
void ds_sites_summary(struct jbuf *jb);

/* ---- hashing (hash64.c) -------------------------------------------------------------- */
uint64_t ds_hash64(const void *data, size_t n, uint64_t seed);

/* ---- the wrapper skeleton (hooks.c) -------------------------------------------------- */
/* Every call a layer sees: counted, and the log opened on first use. */
static inline void ds_count_only(enum ds_hook id)
{
    atomic_fetch_add_explicit(&ds_hook_calls[id], 1, memory_order_relaxed);
}
static inline void ds_count(enum ds_hook id)
{
    ds_count_only(id);
    ds_log_touch();
}
/* Entering and leaving a policy: counts the call, holds the reentrancy guard. */
static inline void ds_enter(enum ds_hook id)
{
    ds_depth++;
    ds_count(id);
}
static inline void ds_leave(void) { ds_depth--; }

/* The real function of a hook, typed, for use inside a policy. */
#define DS_REAL(name) ((ds_real_##name##_t)ds_real(DS_HOOK_##name))

#endif
