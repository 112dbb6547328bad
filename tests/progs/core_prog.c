/* core_prog: calls the (fake) cuBLAS the way a CUDA program does, in the patterns the
 * core tests need. Linked against libcublas.so.13 and libcuda.so.1 like libtorch_cuda.
 *
 *   core_prog create N          N handles from one call site (create_handles_here)
 *   core_prog twosites          one handle from each of two call sites
 *   core_prog threads T N       T threads, N creates each
 *   core_prog fork K N          K forked children, N creates each, parent N too
 *   core_prog sigfork N         N creates while a 200 us timer's signal handler forks (the
 *                               child _exits): fork lands inside the shim's stack captures
 *   core_prog forkquiet K       one create, then K forked workers that each make a hooked
 *                               call that records nothing and leave with _exit
 *   core_prog forkevent K       the same, but each worker creates a handle (an event)
 *   core_prog none              touches no GPU library
 *   core_prog exit|_exit|abort|segv N   N creates, then leaves that way
 * Prints the status of every create as "status=<n>" once per distinct status. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cublas_api.h>
#include <cuda.h>

static __thread int last_status = -1; /* per thread: the threads test shares report() */

static void report(cublasStatus_t st)
{
    if ((int)st != last_status) {
        printf("status=%d\n", (int)st);
        fflush(stdout);
        last_status = (int)st;
    }
}

/* static on purpose: the log must name static functions of unstripped binaries */
static __attribute__((noinline)) void create_handles_here(int n)
{
    for (int i = 0; i < n; i++) {
        cublasHandle_t h = NULL;
        cublasStatus_t st = cublasCreate_v2(&h);
        report(st);
        if (st == CUBLAS_STATUS_SUCCESS) cublasDestroy_v2(h);
    }
}

__attribute__((noinline)) void create_from_second_site(void)
{
    cublasHandle_t h;
    if (cublasCreate_v2(&h) == CUBLAS_STATUS_SUCCESS) cublasDestroy_v2(h);
}

static int per_thread;
static void *thread_main(void *arg)
{
    (void)arg;
    create_handles_here(per_thread);
    return NULL;
}

static void fork_in_handler(int sig)
{
    (void)sig;
    pid_t p = fork();
    if (p == 0) _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    const char *cmd = argv[1];
    int a = argc > 2 ? atoi(argv[2]) : 1, b = argc > 3 ? atoi(argv[3]) : 1;
    cuInit(0);
    if (!strcmp(cmd, "sigfork")) {
        signal(SIGCHLD, SIG_IGN); /* children reaped by the kernel */
        struct sigaction sa = {.sa_handler = fork_in_handler, .sa_flags = SA_RESTART};
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {{0, 200}, {0, 200}};
        setitimer(ITIMER_REAL, &it, NULL);
        create_handles_here(a);
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
    } else if (!strcmp(cmd, "create")) {
        create_handles_here(a);
    } else if (!strcmp(cmd, "twosites")) {
        create_handles_here(1);
        create_from_second_site();
    } else if (!strcmp(cmd, "threads")) {
        pthread_t t[64];
        per_thread = b;
        if (a > 64) a = 64;
        for (int i = 0; i < a; i++) pthread_create(&t[i], NULL, thread_main, NULL);
        for (int i = 0; i < a; i++) pthread_join(t[i], NULL);
    } else if (!strcmp(cmd, "fork")) {
        create_handles_here(b);
        for (int i = 0; i < a; i++) {
            pid_t p = fork();
            if (p == 0) {
                create_handles_here(b);
                exit(0);
            }
        }
        int st;
        while (wait(&st) > 0) {}
    } else if (!strcmp(cmd, "forkquiet") || !strcmp(cmd, "forkevent")) {
        bool quiet = !strcmp(cmd, "forkquiet");
        create_handles_here(1);
        fflush(stdout);
        for (int i = 0; i < a; i++) {
            pid_t p = fork();
            if (p == 0) {
                if (quiet) {
                    (void)cublasDestroy_v2(NULL); /* hooked; nothing to record */
                } else
                    create_from_second_site();
                puts("child-done");
                fflush(stdout);
                _exit(0);
            }
            int st;
            waitpid(p, &st, 0);
        }
    } else if (!strcmp(cmd, "none")) {
        puts("no gpu");
    } else if (!strcmp(cmd, "exit") || !strcmp(cmd, "_exit") || !strcmp(cmd, "abort") ||
               !strcmp(cmd, "segv")) {
        create_handles_here(a);
        create_from_second_site();
        if (!strcmp(cmd, "_exit")) _exit(3);
        if (!strcmp(cmd, "abort")) abort();
        if (!strcmp(cmd, "segv")) raise(SIGSEGV);
        exit(4);
    } else {
        return 2;
    }
    return 0;
}
