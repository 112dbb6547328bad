/* The kernel database: its parser (valid, malformed, CRLF, files), the user pattern lists,
 * the matcher (globs and literal scanner names, mangled and demangled), the classification
 * order (allow > deny > database), the built-in database as embedded, and the kernel table
 * (one classification per kernel, names from registration). Each test runs in its own
 * forked process (check's default). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_table.h"
#include "kerneldb.h"

#include "kernels_common.h"

/* ---- collecting messages ------------------------------------------------------------ */
static char msgs[16][1024];
static int nmsgs;
static void collect(void *arg, const char *m)
{
    (void)arg;
    if (nmsgs < 16) snprintf(msgs[nmsgs], sizeof msgs[0], "%s", m);
    nmsgs++;
}
static bool said(const char *needle)
{
    for (int i = 0; i < nmsgs && i < 16; i++)
        if (strstr(msgs[i], needle)) return true;
    return false;
}

static const char *const *fake_env;
static const char *env_get(const char *name)
{
    size_t n = strlen(name);
    for (const char *const *e = fake_env; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static char *data(const char *file)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", getenv("KDATA"), file);
    return path;
}

/* ---- parser ------------------------------------------------------------------------- */
START_TEST(parse_valid)
{
    const char *text = "# detshim kernel database v1\n"
                       "\n"
                       "   # an indented comment\n"
                       "*indexFuncLargeIndex*ReduceAdd*\tATen index_add: atomicAdd\n"
                       "_Z3fooPf\tSASS: RED.E.ADD.F32 (sm_90)   \r\n"
                       "void bar<float>(float*)\ta demangled name, with blanks\n"
                       "last*\tno newline at the end";
    struct ds_kdb db;
    ds_kdb_init(&db);
    nmsgs = 0;
    ck_assert_int_eq(ds_kdb_parse(&db, text, strlen(text), "t.db", collect, NULL), 0);
    ck_assert_int_eq(nmsgs, 0);
    ck_assert_uint_eq(db.n, 4);
    ck_assert_str_eq(db.e[0].pattern, "*indexFuncLargeIndex*ReduceAdd*");
    ck_assert_str_eq(db.e[0].reason, "ATen index_add: atomicAdd");
    ck_assert_int_eq(db.e[0].line, 4);
    ck_assert_str_eq(db.e[0].source, "t.db");
    ck_assert(!db.e[0].literal);
    ck_assert_str_eq(db.e[1].pattern, "_Z3fooPf");
    ck_assert_str_eq(db.e[1].reason, "SASS: RED.E.ADD.F32 (sm_90)"); /* CR and blanks gone */
    ck_assert(db.e[1].literal);
    ck_assert_str_eq(db.e[2].pattern, "void bar<float>(float*)");
    ck_assert_int_eq(db.e[2].line, 6);
    ck_assert_str_eq(db.e[3].reason, "no newline at the end");
    ds_kdb_free(&db);
}
END_TEST

START_TEST(parse_malformed)
{
    const char *text = "good1*\treason one\n"
                       "no tab here\n"            /* 2 */
                       "\treason without pattern\n" /* 3 */
                       "pattern without reason\t  \n" /* 4 */
                       "two\ttabs\there\n"        /* 5 */
                       " blank*\tbefore the pattern\n" /* 6 */
                       "good2*\treason two\n";
    struct ds_kdb db;
    ds_kdb_init(&db);
    nmsgs = 0;
    ck_assert_int_eq(ds_kdb_parse(&db, text, strlen(text), "/x/bad.db", collect, NULL), 5);
    ck_assert_int_eq(nmsgs, 5);
    ck_assert(said("kernel database /x/bad.db line 2: no TAB between pattern and reason: 'no tab here'"));
    ck_assert(said("line 3: empty pattern"));
    ck_assert(said("line 4: empty reason"));
    ck_assert(said("line 5: more than one TAB"));
    ck_assert(said("line 6: blanks around the pattern"));
    ck_assert(said("line ignored, the rest is loaded"));
    ck_assert_uint_eq(db.n, 2); /* the good lines around them are all there */
    ck_assert_str_eq(db.e[0].pattern, "good1*");
    ck_assert_str_eq(db.e[1].pattern, "good2*");
    ck_assert_int_eq(db.e[1].line, 7);
    ds_kdb_free(&db);
}
END_TEST

START_TEST(load_files)
{
    struct ds_kdb db;
    ds_kdb_init(&db);
    nmsgs = 0;
    ck_assert_int_eq(ds_kdb_load_file(&db, data("scanner.db"), collect, NULL), 0);
    ck_assert_uint_eq(db.n, 1);
    ck_assert_str_eq(db.e[0].pattern, K_REDUCE);
    ck_assert_str_eq(db.e[0].reason, "SASS: RED.E.ADD.F64.RN.STRONG.GPU (sm_90)");
    ck_assert_str_eq(db.e[0].source, data("scanner.db"));
    ck_assert_int_eq(db.e[0].line, 7);
    ck_assert_int_eq(ds_kdb_load_file(&db, data("bad.db"), collect, NULL), 2);
    ck_assert_uint_eq(db.n, 3);
    ck_assert_str_eq(db.e[2].pattern, K_AXPY);
    ck_assert_int_eq(ds_kdb_load_file(&db, "/nonexistent/k.db", collect, NULL), -1);
    ck_assert(said("kernel database /nonexistent/k.db (from DETSHIM_KERNELS) cannot be read: "
                   "No such file or directory"));
    ck_assert_int_eq(ds_kdb_load_file(&db, getenv("KDATA"), collect, NULL), -1);
    ck_assert(said("not a regular file"));
    ck_assert_uint_eq(db.n, 3);
    ds_kdb_free(&db);
}
END_TEST

/* ---- user patterns ---------------------------------------------------------------------- */
START_TEST(pattern_lists)
{
    struct ds_kdb db;
    ds_kdb_init(&db);
    ck_assert_int_eq(ds_kdb_add_patterns(&db, " a*,b*:c*, ,,d* :*at::native::f*:", "DETSHIM_DENY"), 5);
    ck_assert_str_eq(db.e[0].pattern, "a*");
    ck_assert_str_eq(db.e[1].pattern, "b*");
    ck_assert_str_eq(db.e[2].pattern, "c*");
    ck_assert_str_eq(db.e[3].pattern, "d*");
    ck_assert_str_eq(db.e[4].pattern, "*at::native::f*"); /* "::" stays in the pattern */
    ck_assert_str_eq(db.e[4].reason, "DETSHIM_DENY pattern '*at::native::f*'");
    ck_assert_str_eq(db.e[4].source, "DETSHIM_DENY");
    ck_assert_int_eq(db.e[4].line, 0);
    ck_assert_int_eq(ds_kdb_add_patterns(&db, NULL, "DETSHIM_DENY"), 0);
    ck_assert_int_eq(ds_kdb_add_patterns(&db, "", "DETSHIM_DENY"), 0);
    ds_kdb_free(&db);
}
END_TEST

/* ---- matcher ------------------------------------------------------------------------------ */
START_TEST(matching)
{
    const char *text = "*force_deriv_wrt_neighbors_a*\tdeepmd\n"
                       "void clean_axpy<double>(*\tdemangled only\n"
                       "_Z3odd[*]x\tan escaped scanner name\n"
                       "_Z5exactv\texact\n";
    struct ds_kdb db;
    ds_kdb_init(&db);
    ck_assert_int_eq(ds_kdb_parse(&db, text, strlen(text), "m.db", NULL, NULL), 0);
    ck_assert_ptr_eq(ds_kdb_match(&db, K_FORCE, NULL), &db.e[0]);
    ck_assert_ptr_eq(ds_kdb_match(&db, NULL, "void force_deriv_wrt_neighbors_a<double>(double*)"),
                     &db.e[0]);
    ck_assert_ptr_null(ds_kdb_match(&db, K_AXPY, NULL)); /* the pattern is for the demangled */
    ck_assert_ptr_eq(ds_kdb_match(&db, K_AXPY, "void clean_axpy<double>(double*, double const*, double, int)"),
                     &db.e[1]);
    ck_assert_ptr_eq(ds_kdb_match(&db, "_Z3odd*x", NULL), &db.e[2]);
    ck_assert_ptr_null(ds_kdb_match(&db, "_Z3oddyx", NULL));
    ck_assert_ptr_eq(ds_kdb_match(&db, "_Z5exactv", "exact()"), &db.e[3]);
    ck_assert_ptr_null(ds_kdb_match(&db, "_Z5exactvv", NULL)); /* literal: whole name only */
    ck_assert_ptr_null(ds_kdb_match(&db, "_Z27force_deriv_wrt_center_atomIdEvPT_PKS0_S3_i", NULL));
    ds_kdb_free(&db);
}
END_TEST

START_TEST(classify_order)
{
    struct ds_kclassifier c;
    const char *env[] = {"DETSHIM_ALLOW=*ReduceAdd*", "DETSHIM_DENY=*clean_axpy*,*ReduceAdd*", NULL};
    const char *db = "*indexFuncLargeIndex*\tatomics\n*force_deriv*\tdeepmd\n";
    fake_env = env;
    ds_kclassifier_load(&c, db, strlen(db), env_get, collect, NULL);
    const struct ds_kdb_entry *why;
    ck_assert_int_eq(ds_kclassify(&c, K_INDEX, NULL, &why), DS_KV_ALLOWED); /* allow wins */
    ck_assert_str_eq(why->source, "DETSHIM_ALLOW");
    ck_assert_int_eq(ds_kclassify(&c, K_AXPY, NULL, &why), DS_KV_DENIED);   /* deny adds */
    ck_assert_str_eq(why->pattern, "*clean_axpy*");
    ck_assert_int_eq(ds_kclassify(&c, K_FORCE, NULL, &why), DS_KV_DATABASE);
    ck_assert_str_eq(why->source, DS_KDB_BUILTIN_SOURCE);
    ck_assert_str_eq(why->reason, "deepmd");
    ck_assert_int_eq(ds_kclassify(&c, K_FILL, NULL, &why), DS_KV_CLEAN);
    ck_assert_ptr_null(why);
    ds_kclassifier_free(&c);
}
END_TEST

START_TEST(load_from_environment)
{
    static char files[16384], a[4096];
    snprintf(a, sizeof a, "%s", data("scanner.db"));
    snprintf(files, sizeof files, "DETSHIM_KERNELS=%s:/nonexistent/x.db::%s", a, data("bad.db"));
    const char *env[] = {files, NULL};
    fake_env = env;
    nmsgs = 0;
    struct ds_kclassifier c;
    const char *db = "*force_deriv*\tdeepmd\n";
    ds_kclassifier_load(&c, db, strlen(db), env_get, collect, NULL);
    ck_assert_int_eq(c.builtin_entries, 1);
    ck_assert_int_eq(c.file_entries, 3); /* 1 + 2 good lines of bad.db */
    ck_assert_int_eq(c.bad_files, 1);
    ck_assert_int_eq(c.bad_lines, 2);
    ck_assert_int_eq(nmsgs, 3);
    ck_assert(said("/nonexistent/x.db (from DETSHIM_KERNELS) cannot be read"));
    ck_assert(said("bad.db line 3: no TAB"));
    ck_assert(said("bad.db line 4: empty pattern"));
    const struct ds_kdb_entry *why;
    ck_assert_int_eq(ds_kclassify(&c, K_REDUCE, NULL, &why), DS_KV_DATABASE);
    ck_assert_str_eq(why->source, data("scanner.db")); /* the first file that lists it */
    ck_assert_int_eq(ds_kclassify(&c, K_AXPY, NULL, &why), DS_KV_DATABASE);
    ck_assert_int_eq(why->line, 5);
    ds_kclassifier_free(&c);
}
END_TEST

/* ---- the built-in database ---------------------------------------------------------------- */
START_TEST(builtin_database)
{
    struct ds_kdb embedded, file;
    ds_kdb_init(&embedded);
    ds_kdb_init(&file);
    nmsgs = 0;
    ck_assert_uint_eq(strlen(ds_kernels_db_builtin), ds_kernels_db_builtin_len);
    ck_assert_int_eq(ds_kdb_parse(&embedded, ds_kernels_db_builtin, ds_kernels_db_builtin_len,
                                  DS_KDB_BUILTIN_SOURCE, collect, NULL), 0);
    ck_assert_int_eq(nmsgs, 0);
    ck_assert_int_eq(ds_kdb_load_file(&file, getenv("KERNELS_DB"), collect, NULL), 0);
    ck_assert_uint_eq(embedded.n, file.n); /* the library holds today's kernels.db */
    ck_assert_uint_gt(embedded.n, 10);
    const char *flagged[] = {
        K_INDEX, K_FORCE,
        "void at::native::indexFuncLargeIndex<double, long, unsigned int, 2, 2, -2, true, "
        "at::native::(anonymous namespace)::ReduceAdd>(at::cuda::detail::TensorInfo<double, "
        "unsigned int>, at::cuda::detail::TensorInfo<double const, unsigned int>, "
        "at::cuda::detail::TensorInfo<long const, unsigned int>, int, int, unsigned int, "
        "unsigned int, long, long, at::native::(anonymous namespace)::ReduceAdd, double)",
        "_Z27virial_deriv_wrt_neighbors_aIdEvPT_PKS0_S3_PKiiii",
    };
    for (size_t i = 0; i < sizeof flagged / sizeof *flagged; i++)
        ck_assert_msg(ds_kdb_match(&embedded, flagged[i], NULL) != NULL, "not flagged: %s",
                      flagged[i]);
    const char *clean[] = {K_AXPY, K_FILL, K_REDUCE,
                           "_Z27force_deriv_wrt_center_atomIdEvPT_PKS0_S3_i"};
    for (size_t i = 0; i < sizeof clean / sizeof *clean; i++)
        ck_assert_msg(ds_kdb_match(&embedded, clean[i], NULL) == NULL, "flagged: %s", clean[i]);
    ds_kdb_free(&embedded);
    ds_kdb_free(&file);
}
END_TEST

/* ---- the kernel table ------------------------------------------------------------------ */
static volatile int touched;
static void k1(void) { touched = 1; }
static void k2(void) { touched = 2; }
static void k3(void) { touched = 3; }

START_TEST(kernel_table)
{
    /* no runtime here: names come from what registration recorded */
    setenv("DETSHIM_DENY", "*clean_axpy*", 1);
    ck_assert(!ds_knaming_rt_native());
    ds_kname_put((const void *)k1, K_INDEX);
    ds_kname_put((const void *)k2, K_AXPY);
    const struct ds_kinfo *a = ds_kernel_lookup(DS_KK_RT, (const void *)k1);
    ck_assert(a->flagged);
    ck_assert_int_eq(a->verdict, DS_KV_DATABASE);
    ck_assert_str_eq(a->mangled, K_INDEX);
    ck_assert_str_eq(a->pattern, "*indexFuncLargeIndex*ReduceAdd*");
    ck_assert_str_eq(a->allow_hint, "*indexFuncLargeIndex*ReduceAdd*");
    ck_assert_ptr_eq(ds_kernel_lookup(DS_KK_RT, (const void *)k1), a); /* classified once */
    const struct ds_kinfo *b = ds_kernel_lookup(DS_KK_RT, (const void *)k2);
    ck_assert(b->flagged);
    ck_assert_int_eq(b->verdict, DS_KV_DENIED);
    ck_assert_str_eq(b->reason, "DETSHIM_DENY pattern '*clean_axpy*'");
    const struct ds_kinfo *c = ds_kernel_lookup(DS_KK_RT, (const void *)k3);
    ck_assert(!c->flagged);
    ck_assert_int_eq(c->verdict, DS_KV_UNNAMED);
    /* the same pointer as a driver handle is another key, named another way */
    ck_assert_int_eq(ds_kernel_lookup(DS_KK_DRV, (const void *)k3)->verdict, DS_KV_UNNAMED);
    ds_kname_put((const void *)k3, K_FILL); /* a name learnt later changes nothing: once */
    ck_assert_ptr_eq(ds_kernel_lookup(DS_KK_RT, (const void *)k3), c);
}
END_TEST

/* Past the first table's 16384 slots: every kernel classified, the table grows, lookups
 * hit; an unload drops every verdict, and a flagged kernel classified again gets the same
 * description back (memory stays bounded). */
START_TEST(kernel_table_grows)
{
    enum { N = 50000, NF = 5 };
    char name[64];
    for (uintptr_t i = 0; i < N; i++) {
        if (i < N - NF) snprintf(name, sizeof name, "clean_kernel_%u", (unsigned)i);
        else snprintf(name, sizeof name, "_Z27force_deriv_wrt_neighbors_aIdEv_%u", (unsigned)i);
        ds_kname_put((const void *)(0x10000000 + i * 64), name);
    }
    const struct ds_kinfo *last = NULL;
    for (uintptr_t i = 0; i < N; i++) {
        const struct ds_kinfo *k = ds_kernel_lookup(DS_KK_RT, (const void *)(0x10000000 + i * 64));
        ck_assert_int_eq(k->flagged, i >= N - NF);
        if (k->flagged) {
            ck_assert_ptr_nonnull(k->advice);
            ck_assert(strstr(k->advice, "dp --pt train") != NULL);
        }
        last = k;
    }
    size_t kernels = 0, slots = 0;
    ds_kernel_cache_stats(&kernels, &slots);
    ck_assert_uint_eq(kernels, N);
    ck_assert_uint_ge(slots, 2 * N);
    ck_assert_uint_eq(slots & (slots - 1), 0);
    for (uintptr_t i = 0; i < N; i++)
        ck_assert_ptr_nonnull(ds_kernel_cached(DS_KK_RT, (const void *)(0x10000000 + i * 64)));
    ds_kernels_forget();
    const void *lastp = (const void *)(0x10000000 + (uintptr_t)(N - 1) * 64);
    ck_assert_ptr_null(ds_kernel_cached(DS_KK_RT, lastp));
    ds_kernel_cache_stats(&kernels, NULL);
    ck_assert_uint_eq(kernels, 0);
    ck_assert_ptr_eq(ds_kernel_lookup(DS_KK_RT, lastp), last); /* the same description */
    ck_assert_ptr_eq(ds_kernel_cached(DS_KK_RT, lastp), last);
}
END_TEST

START_TEST(advice_lines)
{
    struct ds_kdb db;
    ds_kdb_init(&db);
    const char *t = "#!advice  use the other backend  \na\tr1\nb\tr2\n#!advice\nc\tr3\n"
                    "#!advicex\td\n# !advice not one\nd\tr4\n";
    ck_assert_int_eq(ds_kdb_parse(&db, t, strlen(t), "t", NULL, NULL), 0);
    ck_assert_uint_eq(db.n, 4);
    ck_assert_str_eq(db.e[0].advice, "use the other backend");
    ck_assert_str_eq(db.e[1].advice, "use the other backend");
    ck_assert_ptr_null(db.e[2].advice);
    ck_assert_ptr_null(db.e[3].advice);
    ds_kdb_free(&db);
    /* the built-in database: DeePMD-kit's kernels have it, ATen's do not */
    ds_kdb_init(&db);
    ds_kdb_parse(&db, ds_kernels_db_builtin, ds_kernels_db_builtin_len, "b", NULL, NULL);
    int with = 0;
    for (size_t i = 0; i < db.n; i++) {
        bool deepmd = strstr(db.e[i].pattern, "_deriv_wrt_neighbors_") != NULL;
        ck_assert_int_eq(db.e[i].advice != NULL, deepmd);
        if (deepmd) {
            ck_assert(strstr(db.e[i].advice, "DP_BACKEND=pytorch") != NULL);
            with++;
        }
    }
    ck_assert_int_eq(with, 4);
    ds_kdb_free(&db);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kerneldb");
    TCase *tc = tcase_create("kerneldb");
    tcase_set_timeout(tc, 60); /* 50,000 kernels: seconds under valgrind */
    tcase_add_test(tc, parse_valid);
    tcase_add_test(tc, parse_malformed);
    tcase_add_test(tc, load_files);
    tcase_add_test(tc, pattern_lists);
    tcase_add_test(tc, matching);
    tcase_add_test(tc, classify_order);
    tcase_add_test(tc, load_from_environment);
    tcase_add_test(tc, builtin_database);
    tcase_add_test(tc, kernel_table);
    tcase_add_test(tc, kernel_table_grows);
    tcase_add_test(tc, advice_lines);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
