/* secure_prog: what a setuid program with the shim preloaded does (tests/preload/t_secure.sh).
 * Prints whether it runs in secure execution, whether a shim is loaded, the pinned
 * variables it sees, and the status of one launch of a kernel the built-in database flags
 * (strict mode refuses it when the shim is active). Linked against the fake runtime with an
 * absolute run path: $ORIGIN is not expanded for setuid programs. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>

#include <cuda_runtime_api.h>

void __cudaRegisterFunction(void **fatCubinHandle, const char *hostFun, char *deviceFun,
                            const char *deviceName, int thread_limit, uint3 *tid, uint3 *bid,
                            dim3 *bDim, dim3 *gDim, int *wSize);

#define K_FORCE "_Z27force_deriv_wrt_neighbors_aIdEvPT_PKS0_S3_PKiiii"
static volatile int touched;
static void stub_force(void) { touched = 1; }
static void *fatbin_handle[1];

int main(void)
{
    printf("secure=%lu\n", getauxval(AT_SECURE));
    printf("shim=%s\n", dlsym(RTLD_DEFAULT, "detshim_abi_marker") ? "loaded" : "absent");
    const char *pins[] = {"NCCL_ALGO", "MKL_CBWR", "CUBLAS_WORKSPACE_CONFIG", NULL};
    for (int i = 0; pins[i]; i++) printf("%s=%s\n", pins[i], getenv(pins[i]) ? getenv(pins[i]) : "");
    __cudaRegisterFunction(fatbin_handle, (const char *)stub_force, (char *)K_FORCE, K_FORCE, -1,
                           NULL, NULL, NULL, NULL, NULL);
    dim3 g = {1, 1, 1}, b = {32, 1, 1};
    printf("launch=%d\n", (int)cudaLaunchKernel((const void *)stub_force, g, b, NULL, 0, NULL));
    return 0;
}
