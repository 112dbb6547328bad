/* tf_prog: loads the fake TF kernels library RTLD_LOCAL (as Python imports TF) and prints
 * what the selecting and the raising site were told, for each namespace.
 *   tf_prog DIR [disable]   ("disable": the program switches determinism off first) */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    char path[4096];
    if (argc < 2) return 2;
    snprintf(path, sizeof path, "%s/libfake_tf_kernels.so", argv[1]);
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "%s\n", dlerror()); return 2; }
    int (*sel)(int) = (int (*)(int))dlsym(h, "tf_select");
    int (*ts)(int) = (int (*)(int))dlsym(h, "tf_timestamp");
    void (*en)(int) = (void (*)(int))dlsym(h, "tf_enable");
    if (!sel || !ts || !en) return 2;
    if (argc > 2 && strcmp(argv[2], "disable") == 0) en(0);
    for (int ns = 0; ns < 2; ns++) {
        int t = ts(ns);
        printf("%s select=%d timestamp=%s\n", ns ? "tensorflow" : "tsl", sel(ns),
               t ? "raises" : "runs");
        /* a second time: the cached answer */
        printf("%s again select=%d timestamp=%s\n", ns ? "tensorflow" : "tsl", sel(ns),
               ts(ns) ? "raises" : "runs");
    }
    return 0;
}
