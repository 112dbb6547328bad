/* Resolution order: RTLD_NEXT, then the soname opened RTLD_NOLOAD, then a scan of loaded
 * objects; never a definition inside a copy of the shim. Each test runs in its own
 * forked process (check's default), so what one loads does not leak into the next. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

const char *const *unit_env;

static void *open_fake(const char *file, int flags)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", getenv("FAKES_DIR"), file);
    void *h = dlopen(path, flags);
    ck_assert_msg(h != NULL, "dlopen %s: %s", path, dlerror());
    return h;
}

static const char *object_of(void *p)
{
    static Dl_info di;
    ck_assert(dladdr(p, &di));
    return di.dli_fname;
}

START_TEST(nothing_loaded)
{
    enum ds_resolved_by how = DS_BY_SCAN;
    /* this executable defines a cublasCreate_v2 wrapper itself: it must not come back */
    ck_assert_ptr_null(ds_resolve_symbol("cublasCreate_v2", DS_LIB_CUBLAS, &how));
    ck_assert_int_eq(how, DS_BY_NONE);
}
END_TEST

START_TEST(global_lib_via_next)
{
    void *h = open_fake("libcublas.so.13", RTLD_NOW | RTLD_GLOBAL);
    enum ds_resolved_by how;
    void *p = ds_resolve_symbol("cublasCreate_v2", DS_LIB_CUBLAS, &how);
    ck_assert_ptr_eq(p, dlsym(h, "cublasCreate_v2"));
    ck_assert_int_eq(how, DS_BY_NEXT);
}
END_TEST

START_TEST(local_lib_via_soname)
{
    void *h = open_fake("libcublas.so.13", RTLD_NOW | RTLD_LOCAL);
    ck_assert_ptr_null(dlsym(RTLD_NEXT, "cublasCreate_v2")); /* what torch's loading hides */
    enum ds_resolved_by how;
    void *p = ds_resolve_symbol("cublasCreate_v2", DS_LIB_CUBLAS, &how);
    ck_assert_ptr_eq(p, dlsym(h, "cublasCreate_v2"));
    ck_assert_int_eq(how, DS_BY_SONAME);
}
END_TEST

START_TEST(other_soname_via_scan)
{
    void *h = open_fake("libcublas-alt.so.99", RTLD_NOW | RTLD_LOCAL);
    enum ds_resolved_by how;
    void *p = ds_resolve_symbol("cublasCreate_v2", DS_LIB_CUBLAS, &how);
    ck_assert_ptr_eq(p, dlsym(h, "cublasCreate_v2"));
    ck_assert_int_eq(how, DS_BY_SCAN);
    ck_assert_ptr_nonnull(strstr(object_of(p), "libcublas-alt.so.99"));
}
END_TEST

START_TEST(skips_other_shim_copy)
{
    /* another copy of libdetshim first in the global scope, then the real library */
    void *shim = dlopen(getenv("SHIM_LIB"), RTLD_NOW | RTLD_GLOBAL);
    ck_assert_msg(shim != NULL, "%s", dlerror());
    void *h = open_fake("libcublas.so.13", RTLD_NOW | RTLD_GLOBAL);
    void *first = dlsym(RTLD_NEXT, "cublasCreate_v2");
    ck_assert_ptr_eq(first, dlsym(shim, "cublasCreate_v2")); /* the trap is really there */
    enum ds_resolved_by how;
    void *p = ds_resolve_symbol("cublasCreate_v2", DS_LIB_CUBLAS, &how);
    ck_assert_ptr_eq(p, dlsym(h, "cublasCreate_v2"));
    ck_assert_int_eq(how, DS_BY_SONAME);
}
END_TEST

START_TEST(hook_cache_and_pin)
{
    void *h = open_fake("libcublas.so.13", RTLD_NOW | RTLD_LOCAL);
    void *want = dlsym(h, "cublasCreate_v2");
    ck_assert_ptr_eq(ds_real(DS_HOOK_cublasCreate_v2), want);
    /* cached: the same pointer, and the object stays mapped after the program's dlclose */
    dlclose(h);
    ck_assert_ptr_eq(ds_real(DS_HOOK_cublasCreate_v2), want);
    Dl_info di;
    ck_assert(dladdr(want, &di));
}
END_TEST

START_TEST(missing_symbol)
{
    open_fake("libcublas.so.13", RTLD_NOW | RTLD_LOCAL);
    enum ds_resolved_by how;
    ck_assert_ptr_null(ds_resolve_symbol("cublasNoSuchFunction", DS_LIB_CUBLAS, &how));
    ck_assert_int_eq(how, DS_BY_NONE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("resolve");
    TCase *tc = tcase_create("order");
    tcase_add_test(tc, nothing_loaded);
    tcase_add_test(tc, global_lib_via_next);
    tcase_add_test(tc, local_lib_via_soname);
    tcase_add_test(tc, other_soname_via_scan);
    tcase_add_test(tc, skips_other_shim_copy);
    tcase_add_test(tc, hook_cache_and_pin);
    tcase_add_test(tc, missing_symbol);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
