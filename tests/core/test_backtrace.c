/* Backtraces: raw capture, then symbolisation once per site with module, offset and
 * function names, static functions included; demangling of C++ names. */
#include <dlfcn.h>
#include <string.h>

#include "unit.h"

const char *const *unit_env;

void ds_self_set_range_for_test(uintptr_t lo, uintptr_t hi);

static char rendered[65536];

/* Capture and render from one function, as the shim does (both below the hook): the
 * callers' frames are the same in both walks, so their names can be matched. */
__attribute__((noinline)) void capture_and_render(void);
__attribute__((noinline)) void capture_and_render(void)
{
    void *ips[DS_MAX_FRAMES];
    int n = ds_bt_capture(ips, DS_MAX_FRAMES);
    ck_assert_int_gt(n, 2);
    struct jbuf jb;
    jb_init(&jb, rendered, sizeof rendered);
    jb_obj_begin(&jb);
    ds_bt_render(&jb, "stack", ips, n);
    jb_obj_end(&jb);
    ck_assert(jb_finish(&jb));
}

static __attribute__((noinline)) void bt_static_leaf(void)
{
    capture_and_render();
    __asm__ volatile("" ::: "memory"); /* no tail call */
}

__attribute__((noinline)) void bt_exported_caller(void);
__attribute__((noinline)) void bt_exported_caller(void)
{
    bt_static_leaf();
    __asm__ volatile("" ::: "memory"); /* no tail call */
}

START_TEST(names_in_order)
{
    ds_self_set_range_for_test(0, 0); /* the shim is linked into this test: keep all frames */
    bt_exported_caller();
    const char *leaf = strstr(rendered, "\"function\":\"bt_static_leaf\"");
    const char *caller = strstr(rendered, "\"function\":\"bt_exported_caller\"");
    ck_assert_msg(leaf && caller, "stack: %s", rendered);
    ck_assert_msg(leaf < caller, "not innermost first"); /* innermost first */
    ck_assert_ptr_nonnull(strstr(rendered, "\"module\":\"/"));
    ck_assert_ptr_nonnull(strstr(rendered, "test_backtrace\""));
    ck_assert_ptr_nonnull(strstr(rendered, "\"offset\":\"0x"));
}
END_TEST

START_TEST(own_frames_dropped)
{
    /* make this whole executable "the shim": only frames outside it may remain */
    Dl_info di;
    ck_assert(dladdr((void *)&bt_exported_caller, &di));
    ds_self_set_range_for_test((uintptr_t)di.dli_fbase, (uintptr_t)di.dli_fbase + (64u << 20));
    void *ips[16];
    int n = ds_bt_capture(ips, 16);
    for (int i = 0; i < n; i++) {
        Dl_info fi;
        ck_assert(dladdr(ips[i], &fi));
        ck_assert_ptr_ne(fi.dli_fbase, di.dli_fbase);
    }
    ck_assert_int_gt(n, 0); /* libc's frames remain */
}
END_TEST

START_TEST(demangles_cxx)
{
    /* a C++ function in libstdc++: its dladdr name is mangled, the log shows it readable */
    void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
    ck_assert_ptr_nonnull(h);
    void *fn = dlsym(h, "_ZNSt9exceptionD1Ev"); /* std::exception::~exception() */
    ck_assert_ptr_nonnull(fn);
    struct ds_sym s;
    ck_assert(ds_bt_symbolize((char *)fn + 1, &s));
    /* D1 and D2 (complete and base destructor) share the address: either is right */
    ck_assert_msg(!strncmp(s.mangled, "_ZNSt9exceptionD", 16), "%s", s.mangled);
    ck_assert_str_eq(s.function, "std::exception::~exception()");
    ck_assert_ptr_nonnull(strstr(s.module, "libstdc++"));
}
END_TEST

START_TEST(demangles_with_local_libstdcxx)
{
    /* as in a Python process: libstdc++ is there, but not in the global scope */
    void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);
    ck_assert_ptr_nonnull(h);
    /* a sanitizer runtime defines __cxa_demangle globally itself: no such scenario there */
    if (getenv("DETSHIM_SANITIZED")) return;
    ck_assert_ptr_null(dlsym(RTLD_DEFAULT, "__cxa_demangle"));
    struct ds_sym s;
    ck_assert(ds_bt_symbolize((char *)dlsym(h, "_ZNSt9exceptionD1Ev") + 1, &s));
    ck_assert_str_eq(s.function, "std::exception::~exception()");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backtrace");
    TCase *tc = tcase_create("capture");
    tcase_add_test(tc, names_in_order);
    tcase_add_test(tc, own_frames_dropped);
    tcase_add_test(tc, demangles_cxx);
    tcase_add_test(tc, demangles_with_local_libstdcxx);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
