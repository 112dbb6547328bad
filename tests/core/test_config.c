/* DETSHIM_* parsing: valid values, and for every malformed one exactly one message
 * naming the variable, the value and the accepted values, with the safe default kept. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

const char *const *unit_env;

static char errbuf[8192];

/* Parse with env, capturing what would go to stderr. Returns the malformed count. */
static int parse(struct ds_config *c, const char *const *env)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    unit_env = env;
    int bad = ds_config_parse(c, unit_getenv, p[1]);
    close(p[1]);
    ssize_t n = read(p[0], errbuf, sizeof errbuf - 1);
    errbuf[n > 0 ? n : 0] = 0;
    close(p[0]);
    return bad;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

START_TEST(defaults)
{
    struct ds_config c;
    const char *env[] = {NULL};
    ck_assert_int_eq(parse(&c, env), 0);
    ck_assert_int_eq(c.mode, DS_MODE_ENFORCE);
    ck_assert_uint_eq(c.disabled, 0);
    ck_assert_int_eq(c.verbose, 0);
    ck_assert_int_eq(c.stack_depth, 32);
    ck_assert(!c.log_template_set);
    ck_assert_str_eq(errbuf, "");
}
END_TEST

START_TEST(modes)
{
    struct ds_config c;
    const char *names[] = {"off", "log", "enforce", "strict", "STRICT", "Log"};
    enum ds_mode want[] = {DS_MODE_OFF, DS_MODE_LOG, DS_MODE_ENFORCE, DS_MODE_STRICT,
                           DS_MODE_STRICT, DS_MODE_LOG};
    for (int i = 0; i < 6; i++) {
        char var[64];
        snprintf(var, sizeof var, "DETSHIM_MODE=%s", names[i]);
        const char *env[] = {var, NULL};
        ck_assert_int_eq(parse(&c, env), 0);
        ck_assert_int_eq(c.mode, want[i]);
    }
}
END_TEST

START_TEST(bad_mode)
{
    struct ds_config c;
    const char *env[] = {"DETSHIM_MODE=enforcing", NULL};
    ck_assert_int_eq(parse(&c, env), 1);
    ck_assert_int_eq(c.mode, DS_MODE_ENFORCE);
    ck_assert_int_eq(count_lines(errbuf), 1);
    ck_assert_ptr_nonnull(strstr(errbuf, "DETSHIM_MODE"));
    ck_assert_ptr_nonnull(strstr(errbuf, "'enforcing'"));
    ck_assert_ptr_nonnull(strstr(errbuf, "off, log, enforce, strict"));
}
END_TEST

START_TEST(layers)
{
    unsigned m;
    char bad[64];
    ck_assert_int_eq(ds_parse_layers("cudnn,kernels", &m, bad, sizeof bad), 0);
    ck_assert_uint_eq(m, (1u << DS_LAYER_CUDNN) | (1u << DS_LAYER_KERNELS));
    ck_assert_int_eq(ds_parse_layers(" torch , ,CUBLAS ", &m, bad, sizeof bad), 0);
    ck_assert_uint_eq(m, (1u << DS_LAYER_TORCH) | (1u << DS_LAYER_CUBLAS));
    ck_assert_int_eq(ds_parse_layers("all", &m, bad, sizeof bad), 0);
    ck_assert_uint_eq(m, (1u << DS_LAYER_COUNT) - 1);
    ck_assert_int_eq(ds_parse_layers("cudnn,gpu", &m, bad, sizeof bad), -1);
    ck_assert_str_eq(bad, "gpu");
    ck_assert_uint_eq(m, 1u << DS_LAYER_CUDNN);
    /* a prefix is not a name */
    ck_assert_int_eq(ds_parse_layers("cub", &m, bad, sizeof bad), -1);
}
END_TEST

START_TEST(bad_disable)
{
    struct ds_config c;
    const char *env[] = {"DETSHIM_DISABLE=cudnn,nonsense", NULL};
    ck_assert_int_eq(parse(&c, env), 1);
    ck_assert_uint_eq(c.disabled, 1u << DS_LAYER_CUDNN);
    ck_assert_int_eq(count_lines(errbuf), 1);
    ck_assert_ptr_nonnull(strstr(errbuf, "DETSHIM_DISABLE"));
    ck_assert_ptr_nonnull(strstr(errbuf, "nonsense"));
    ck_assert_ptr_nonnull(strstr(errbuf, "kernels, cublas, cublaslt, cudnn, torch, env"));
}
END_TEST

START_TEST(verbose_and_depth)
{
    struct ds_config c;
    const char *env1[] = {"DETSHIM_VERBOSE=yes", "DETSHIM_STACK_DEPTH=8", NULL};
    ck_assert_int_eq(parse(&c, env1), 0);
    ck_assert_int_eq(c.verbose, 1);
    ck_assert_int_eq(c.stack_depth, 8);
    const char *env2[] = {"DETSHIM_VERBOSE=trace", NULL};
    ck_assert_int_eq(parse(&c, env2), 0);
    ck_assert_int_eq(c.verbose, 2);
    const char *env3[] = {"DETSHIM_VERBOSE=loud", "DETSHIM_STACK_DEPTH=0", NULL};
    ck_assert_int_eq(parse(&c, env3), 2);
    ck_assert_int_eq(c.verbose, 0);
    ck_assert_int_eq(c.stack_depth, 32);
    ck_assert_int_eq(count_lines(errbuf), 2);
    ck_assert_ptr_nonnull(strstr(errbuf, "DETSHIM_VERBOSE='loud'"));
    ck_assert_ptr_nonnull(strstr(errbuf, "DETSHIM_STACK_DEPTH='0'"));
    ck_assert_ptr_nonnull(strstr(errbuf, "an integer from 1 to 64"));
    const char *env4[] = {"DETSHIM_STACK_DEPTH=12abc", NULL};
    ck_assert_int_eq(parse(&c, env4), 1);
}
END_TEST

START_TEST(log_template)
{
    struct ds_config c;
    const char *env1[] = {"DETSHIM_LOG=/tmp/x-%h-%r-%p.jsonl", NULL};
    ck_assert_int_eq(parse(&c, env1), 0);
    ck_assert(c.log_template_set);
    ck_assert_str_eq(c.log_template, "/tmp/x-%h-%r-%p.jsonl");
    const char *env2[] = {"DETSHIM_LOG=/tmp/x-%q.jsonl", NULL};
    ck_assert_int_eq(parse(&c, env2), 1);
    ck_assert(!c.log_template_set);
    ck_assert_ptr_nonnull(strstr(errbuf, "DETSHIM_LOG='/tmp/x-%q.jsonl'"));
    ck_assert_ptr_nonnull(strstr(errbuf, "%p (pid)"));
    const char *env3[] = {"DETSHIM_LOG=/tmp/trailing%", NULL};
    ck_assert_int_eq(parse(&c, env3), 1);
}
END_TEST

START_TEST(expand)
{
    char out[256];
    ck_assert_int_eq(ds_expand_template("log.%h.%r.%p.%%", out, sizeof out, "node1", 42, "3"), 0);
    ck_assert_str_eq(out, "log.node1.3.42.%");
    ck_assert_int_eq(ds_expand_template("a%r", out, sizeof out, "h", 1, NULL), 0);
    ck_assert_str_eq(out, "anorank");
    ck_assert_int_eq(ds_expand_template("%p%p%p", out, 4, "h", 12345, NULL), -1); /* too long */
    ck_assert_int_eq(ds_expand_template("", out, sizeof out, "h", 1, NULL), -1);
}
END_TEST

START_TEST(rank)
{
    const char *env1[] = {"SLURM_PROCID=7", "PMI_RANK=9", NULL};
    unit_env = env1;
    ck_assert_str_eq(ds_rank(unit_getenv), "7");
    const char *env2[] = {"RANK=2", "SLURM_PROCID=7", NULL};
    unit_env = env2;
    ck_assert_str_eq(ds_rank(unit_getenv), "2");
    const char *env3[] = {"RANK=abc", "OMPI_COMM_WORLD_RANK=5", NULL};
    unit_env = env3;
    ck_assert_str_eq(ds_rank(unit_getenv), "5");
    const char *env4[] = {NULL};
    unit_env = env4;
    ck_assert_ptr_null(ds_rank(unit_getenv));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, modes);
    tcase_add_test(tc, bad_mode);
    tcase_add_test(tc, layers);
    tcase_add_test(tc, bad_disable);
    tcase_add_test(tc, verbose_and_depth);
    tcase_add_test(tc, log_template);
    tcase_add_test(tc, expand);
    tcase_add_test(tc, rank);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
