/* A fake TF kernels library (as libtensorflow_cc.so.2): functions named like the TF sites
 * that ask the determinism query, a selecting one (tf.data's GetOptimizations) and a
 * raising one (TimestampOp::Compute), in both namespaces. Static functions: the shim names
 * them from the symbol table, as it does TF's hidden ones. */
#include <stdbool.h>

bool _ZN3tsl21OpDeterminismRequiredEv(void);
bool _ZN10tensorflow21OpDeterminismRequiredEv(void);
void _ZN3tsl19EnableOpDeterminismEb(bool on);

__attribute__((noinline)) static int _ZN10tensorflow4data16GetOptimizationsEv(int ns)
{
    return ns ? _ZN10tensorflow21OpDeterminismRequiredEv() : _ZN3tsl21OpDeterminismRequiredEv();
}

__attribute__((noinline)) static int _ZN10tensorflow11TimestampOp7ComputeEPv(int ns)
{
    /* TF: OP_REQUIRES(ctx, !OpDeterminismRequired(), FailedPrecondition(...)) */
    bool det = ns ? _ZN10tensorflow21OpDeterminismRequiredEv() : _ZN3tsl21OpDeterminismRequiredEv();
    return det ? -1 : 0;
}

int tf_select(int ns) { return _ZN10tensorflow4data16GetOptimizationsEv(ns); }
int tf_timestamp(int ns) { return _ZN10tensorflow11TimestampOp7ComputeEPv(ns); }
void tf_enable(int on) { _ZN3tsl19EnableOpDeterminismEb(on); }
