/* Log writing: the header comes first; concurrent writers from threads and forked
 * children produce whole lines; call sites are deduplicated with exact counts; the
 * log path refuses symlinks and non-regular files without touching them. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

const char *const *unit_env;
void ds_self_set_range_for_test(uintptr_t lo, uintptr_t hi);

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/detshim-unit-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ds_cfg.mode = DS_MODE_LOG;
    snprintf(ds_cfg.log_template, sizeof ds_cfg.log_template, "%s/log-%%p.jsonl", dir);
    ds_cfg.log_template_set = true;
    ds_cfg.stack_depth = 16;
    /* the shim is linked into this test: keep its frames, or every site looks alike */
    ds_self_set_range_for_test(0, 0);
    ds_core_atfork_child();
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[8 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static char *my_log(pid_t pid)
{
    char path[512];
    snprintf(path, sizeof path, "%s/log-%d.jsonl", dir, (int)pid);
    return slurp(path, NULL);
}

/* Every line is one whole record: starts with {"type":", ends with }. */
static int whole_lines(const char *s, const char *type, int *n_type)
{
    int lines = 0;
    *n_type = 0;
    char want[64];
    snprintf(want, sizeof want, "{\"type\":\"%s\"", type);
    for (const char *p = s; *p;) {
        const char *e = strchr(p, '\n');
        ck_assert_msg(e != NULL, "last line not terminated");
        ck_assert_msg(!strncmp(p, "{\"type\":\"", 9), "line %d starts badly: %.40s", lines + 1, p);
        ck_assert_msg(e[-1] == '}', "line %d ends badly", lines + 1);
        if (!strncmp(p, want, strlen(want))) (*n_type)++;
        lines++;
        p = e + 1;
    }
    return lines;
}

START_TEST(header_first_and_lazy)
{
    setup();
    ck_assert_ptr_null(my_log(getpid())); /* nothing before the first hooked call */
    ds_depth++;
    ds_event(DS_HOOK_cublasCreate_v2, DS_ACT_OBSERVED, 0, "first");
    ds_depth--;
    char *s = my_log(getpid());
    ck_assert_ptr_nonnull(s);
    const char *head = "{\"type\":\"header\",\"schema\":1,";
    ck_assert_msg(!strncmp(s, head, strlen(head)), "%.80s", s);
    int n;
    ck_assert_int_eq(whole_lines(s, "event", &n), 2);
    ck_assert_int_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(s, "\"detail\":\"first\""));
    ck_assert_ptr_nonnull(strstr(s, "\"mode\":\"log\""));
}
END_TEST

static __attribute__((noinline)) void site_a(void)
{
    ds_event(DS_HOOK_cublasCreate_v2, DS_ACT_OBSERVED, 0, "a");
    __asm__ volatile("" ::: "memory"); /* no tail call: keep this frame */
}
static __attribute__((noinline)) void site_b(void)
{
    ds_event(DS_HOOK_cublasCreate_v2, DS_ACT_OBSERVED, 0, "b");
    __asm__ volatile("" ::: "memory");
}

START_TEST(dedup)
{
    setup();
    ds_depth++;
    volatile int na = 50, nb = 7; /* loops, not unrolled copies of the call */
    for (int i = 0; i < na; i++) site_a();
    for (int i = 0; i < nb; i++) site_b();
    /* the same code with another subject is another site */
    ds_event(DS_HOOK_cublasCreate_v2, DS_ACT_OBSERVED, 1, "s1");
    ds_event(DS_HOOK_cublasCreate_v2, DS_ACT_OBSERVED, 2, "s2");
    ds_summary_write();
    ds_depth--;
    char *s = my_log(getpid());
    int n;
    whole_lines(s, "event", &n);
    ck_assert_int_eq(n, 4);
    ck_assert_ptr_nonnull(strstr(s, "\"count\":50}"));
    ck_assert_ptr_nonnull(strstr(s, "\"count\":7}"));
    ck_assert_ptr_nonnull(strstr(s, "\"events\":59,"));
}
END_TEST

enum { THREADS = 16, PER_THREAD = 2000 };
static void *hammer(void *arg)
{
    (void)arg;
    ds_depth++;
    for (int i = 0; i < PER_THREAD; i++) site_a();
    /* long notices, many at once: lines must never interleave */
    char big[1500];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 50; i++) ds_notice("test", false, "%s", big);
    ds_depth--;
    return NULL;
}

START_TEST(threads_exact_counts)
{
    setup();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    ds_depth++;
    ds_summary_write();
    ds_depth--;
    char *s = my_log(getpid());
    int n_notice, n_event;
    int lines = whole_lines(s, "notice", &n_notice);
    whole_lines(s, "event", &n_event);
    ck_assert_int_eq(n_notice, THREADS * 50);
    ck_assert_int_eq(n_event, 1); /* one site, logged once, whatever the thread */
    ck_assert_int_eq(lines, 1 + 1 + THREADS * 50 + 1);
    char want[64];
    snprintf(want, sizeof want, "\"count\":%d}", THREADS * PER_THREAD);
    ck_assert_ptr_nonnull(strstr(s, want));
}
END_TEST

START_TEST(fork_children_own_files)
{
    setup();
    ds_depth++;
    site_a();
    ds_depth--;
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            ds_core_atfork_child(); /* what pthread_atfork runs in a preloaded process */
            ds_depth++;
            for (int i = 0; i <= k; i++) site_a();
            ds_summary_write();
            ds_depth--;
            _exit(0);
        }
    }
    for (int k = 0; k < 4; k++) {
        int st;
        waitpid(kids[k], &st, 0);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        char *s = my_log(kids[k]);
        ck_assert_msg(s != NULL, "child %d has no log", k);
        char pidfield[64], count[64];
        snprintf(pidfield, sizeof pidfield, "\"pid\":%d,", (int)kids[k]);
        snprintf(count, sizeof count, "\"events\":%d,", k + 1);
        ck_assert(!strncmp(s, "{\"type\":\"header\"", 16));
        ck_assert_ptr_nonnull(strstr(s, pidfield));
        ck_assert_ptr_nonnull(strstr(s, count)); /* the child's own counts, not the parent's */
        int n;
        whole_lines(s, "event", &n);
        ck_assert_int_eq(n, 1); /* its own first event, with its own stack */
    }
}
END_TEST

START_TEST(refuses_symlink)
{
    setup();
    char target[512], link[512];
    snprintf(target, sizeof target, "%s/victim", dir);
    snprintf(link, sizeof link, "%s/log-%d.jsonl", dir, (int)getpid());
    int fd = open(target, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "keep", 4), 4);
    close(fd);
    ck_assert_int_eq(symlink(target, link), 0);
    ds_depth++;
    site_a();
    ds_depth--;
    struct stat st;
    ck_assert_int_eq(stat(target, &st), 0);
    ck_assert_int_eq(st.st_size, 4); /* untouched */
}
END_TEST

START_TEST(refuses_fifo)
{
    setup();
    char path[512];
    snprintf(path, sizeof path, "%s/log-%d.jsonl", dir, (int)getpid());
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    /* a reader keeps the open from blocking forever if the shim were to try */
    int rd = open(path, O_RDONLY | O_NONBLOCK);
    ck_assert_int_ge(rd, 0);
    ds_depth++;
    site_a();
    ds_depth--;
    char buf[16];
    ck_assert_int_le(read(rd, buf, sizeof buf), 0); /* nothing was written into it */
    close(rd);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("write");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, header_first_and_lazy);
    tcase_add_test(tc, dedup);
    tcase_add_test(tc, threads_exact_counts);
    tcase_add_test(tc, fork_children_own_files);
    tcase_add_test(tc, refuses_symlink);
    tcase_add_test(tc, refuses_fifo);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
