/* fingerprint.c: what a reproducibility report needs to know about this process:
 * who it is, what it loaded, which environment it ran with, and (once the program
 * has initialised CUDA) which GPU, driver and runtime. */
#include <dlfcn.h>
#include <limits.h>
#include <sched.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "detshim.h"
#include "detshim_version.h"

/* Environment variables that decide whether two runs can match bitwise. */
static const char *const env_vars[] = {
    "CUBLAS_WORKSPACE_CONFIG", "CUBLASLT_WORKSPACE_SIZE", "CUDA_VISIBLE_DEVICES",
    "CUDA_LAUNCH_BLOCKING", "CUDA_DEVICE_ORDER", "CUDA_MODULE_LOADING", "NVIDIA_TF32_OVERRIDE",
    "CUDNN_LIB_CONFIG", "NCCL_ALGO", "NCCL_PROTO", "NCCL_NVLS_ENABLE", "NCCL_MIN_NCHANNELS",
    "NCCL_MAX_NCHANNELS", "MKL_CBWR", "MKL_DYNAMIC", "MKL_NUM_THREADS", "OMP_DYNAMIC",
    "OMP_NUM_THREADS", "OMP_PROC_BIND", "OPENBLAS_NUM_THREADS", "PYTHONHASHSEED",
    "TORCH_CUDNN_V8_API_DISABLED", "TORCH_BLAS_PREFER_CUBLASLT", "TORCH_CUBLAS_WORKSPACE_CACHE",
    "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", "DP_INTERFACE_PREC", "NUM_WORKERS", "LD_PRELOAD",
    "DETSHIM_MODE", "DETSHIM_DISABLE", "DETSHIM_LOG", "DETSHIM_KERNELS", "DETSHIM_ALLOW",
    "DETSHIM_DENY", "DETSHIM_HASH", "DETSHIM_PEDANTIC_MATH", "DETSHIM_CUBLAS_WORKSPACE_SIZE",
    "DETSHIM_CUBLASLT_ALIGNMENT", "DETSHIM_CUBLASLT_REDUCTION",
    /* DeePMD-kit and TensorFlow: which backend, precision, threads and op paths run */
    "DP_BACKEND", "DP_INTRA_OP_PARALLELISM_THREADS", "DP_INTER_OP_PARALLELISM_THREADS",
    "TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC", "TF_ENABLE_ONEDNN_OPTS",
    "TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS", "XLA_FLAGS", NULL};

static void cmdline(struct jbuf *jb)
{
    char buf[8192];
    jb_arr_begin(jb, "cmdline");
    FILE *f = fopen("/proc/self/cmdline", "re");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        for (size_t i = 0; i < n;) {
            size_t len = strnlen(buf + i, n - i);
            jb_strn(jb, NULL, buf + i, len);
            i += len + 1;
        }
    }
    jb_arr_end(jb);
}

/* The version a vendor library carries in its file name (libcublas.so.13.1.0.3). */
static void version_from_path(const char *real, char *out, size_t sz)
{
    const char *so = strstr(real, ".so.");
    snprintf(out, sz, "%s", so ? so + 4 : "");
}

static int each_lib(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct jbuf *jb = arg;
    const char *path = info->dlpi_name;
    if (!path || !path[0]) return 0;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (int l = 0; l < DS_LIB_COUNT; l++) {
        const char *pre = ds_libs[l].prefix;
        size_t n = strlen(pre);
        /* libcublas must not also claim libcublasLt: the next char must end the name */
        if (strncmp(base, pre, n) != 0 || (base[n] != '.' && base[n] != '_')) continue;
        if (base[n] == '_' && l != DS_LIB_CUDNN) continue; /* libcudnn_ops etc. */
        char real[PATH_MAX], ver[64];
        if (!realpath(path, real)) snprintf(real, sizeof real, "%s", path);
        version_from_path(real, ver, sizeof ver);
        jb_obj_begin(jb);
        jb_str(jb, "name", base);
        jb_str(jb, "path", path);
        jb_str(jb, "realpath", real);
        jb_str(jb, "version", ver[0] ? ver : NULL);
        jb_obj_end(jb);
        break;
    }
    return 0;
}

void ds_fingerprint_header(struct jbuf *jb)
{
    char host[256] = "unknown", cwd[DS_PATH_MAX], exe[DS_PATH_MAX], t[64];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
    jb_str(jb, "version", DETSHIM_VERSION);
    jb_str(jb, "time", t);
    jb_str(jb, "host", host);
    jb_int(jb, "pid", (long long)getpid());
    jb_int(jb, "ppid", (long long)getppid());
    const char *rank = ds_rank(ds_libc_getenv);
    if (rank)
        jb_int(jb, "rank", atoll(rank));
    else
        jb_null(jb, "rank");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    jb_strn(jb, "exe", n > 0 ? exe : NULL, n > 0 ? (size_t)n : 0);
    cmdline(jb);
    /* what an OpenMP or MKL team is sized from when no variable says otherwise */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        jb_int(jb, "cpus_allowed", CPU_COUNT(&set));
    else
        jb_null(jb, "cpus_allowed");
    jb_str(jb, "cwd", getcwd(cwd, sizeof cwd) ? cwd : NULL);
    jb_str(jb, "mode", ds_mode_name(ds_cfg.mode));
    jb_arr_begin(jb, "disabled");
    for (int i = 0; i < DS_LAYER_COUNT; i++)
        if (ds_cfg.disabled & (1u << i)) jb_str(jb, NULL, ds_layers[i].name);
    jb_arr_end(jb);
    jb_arr_begin(jb, "libraries");
    ds_loader_walk(each_lib, jb);
    jb_arr_end(jb);
    jb_key(jb, "env");
    jb_obj_begin(jb);
    /* A value is kept up to ENV_VALUE_MAX bytes (named in env_truncated past that), so that
     * no over-long variable costs the header its other fields. */
    enum { ENV_VALUE_MAX = 2048 };
    bool cut[sizeof env_vars / sizeof *env_vars] = {false};
    bool any_cut = false;
    for (int i = 0; env_vars[i]; i++) {
        const char *v = secure_getenv(env_vars[i]);
        if (!v) continue;
        size_t n = strnlen(v, ENV_VALUE_MAX + 1);
        if (n > ENV_VALUE_MAX) cut[i] = any_cut = true;
        jb_strn(jb, env_vars[i], v, n > ENV_VALUE_MAX ? ENV_VALUE_MAX : n);
    }
    jb_obj_end(jb);
    if (any_cut) {
        jb_arr_begin(jb, "env_truncated");
        for (int i = 0; env_vars[i]; i++)
            if (cut[i]) jb_str(jb, NULL, env_vars[i]);
        jb_arr_end(jb);
    }
}

/* ---- the device record -------------------------------------------------------------- */
/* Driver API types spelt out here: the core includes no vendor header. */
typedef int (*cu_ctx_get_device_t)(int *);
typedef int (*cu_device_get_name_t)(char *, int, int);
typedef int (*cu_device_get_attribute_t)(int *, int, int);
typedef int (*cu_driver_get_version_t)(int *);
typedef int (*cuda_runtime_get_version_t)(int *);

enum { CU_ATTR_SM_COUNT = 16, CU_ATTR_CC_MAJOR = 75, CU_ATTR_CC_MINOR = 76 };

static _Atomic int device_done;

void ds_fingerprint_device(void)
{
    if (DS_LIKELY(atomic_load_explicit(&device_done, memory_order_relaxed))) return;
    ds_depth++;
    /* By soname only: no scan of every loaded object each time a CPU-only process
     * logs a new site. */
    cu_ctx_get_device_t get_dev = (cu_ctx_get_device_t)ds_lookup_soname("cuCtxGetDevice", DS_LIB_CUDA);
    int dev = -1;
    /* no context yet, or no log yet (a forked child's opens at its first event): try again
     * at a later event */
    if (!ds_log_is_open() || !get_dev || get_dev(&dev) != 0) {
        ds_depth--;
        return;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&device_done, &expected, 1)) {
        ds_depth--;
        return;
    }
    char name[256] = "";
    int sm = -1, major = -1, minor = -1, drv = -1, rt = -1;
    cu_device_get_name_t get_name =
        (cu_device_get_name_t)ds_lookup_soname("cuDeviceGetName", DS_LIB_CUDA);
    cu_device_get_attribute_t get_attr =
        (cu_device_get_attribute_t)ds_lookup_soname("cuDeviceGetAttribute", DS_LIB_CUDA);
    cu_driver_get_version_t get_drv =
        (cu_driver_get_version_t)ds_lookup_soname("cuDriverGetVersion", DS_LIB_CUDA);
    cuda_runtime_get_version_t get_rt =
        (cuda_runtime_get_version_t)ds_lookup_soname("cudaRuntimeGetVersion", DS_LIB_CUDART);
    if (get_name && get_name(name, (int)sizeof name - 1, dev) != 0) name[0] = 0;
    if (get_attr) {
        if (get_attr(&sm, CU_ATTR_SM_COUNT, dev) != 0) sm = -1;
        if (get_attr(&major, CU_ATTR_CC_MAJOR, dev) != 0) major = -1;
        if (get_attr(&minor, CU_ATTR_CC_MINOR, dev) != 0) minor = -1;
    }
    if (get_drv && get_drv(&drv) != 0) drv = -1;
    if (get_rt && get_rt(&rt) != 0) rt = -1;

    char buf[2048];
    struct jbuf jb;
    jb_init(&jb, buf, sizeof buf);
    ds_record_begin(&jb, "device");
    jb_int(&jb, "device", dev);
    jb_str(&jb, "name", name[0] ? name : NULL);
    if (sm >= 0) jb_int(&jb, "sm_count", sm); else jb_null(&jb, "sm_count");
    if (major >= 0) {
        char cc[32];
        snprintf(cc, sizeof cc, "%d.%d", major, minor < 0 ? 0 : minor);
        jb_str(&jb, "compute_capability", cc);
    } else
        jb_null(&jb, "compute_capability");
    if (drv >= 0) jb_int(&jb, "driver_version", drv); else jb_null(&jb, "driver_version");
    if (rt >= 0) jb_int(&jb, "runtime_version", rt); else jb_null(&jb, "runtime_version");
    jb_obj_end(&jb);
    if (jb_finish(&jb)) ds_log_write(buf, jb.len);
    ds_depth--;
}

void ds_fingerprint_reset(void) { atomic_store(&device_done, 0); }
