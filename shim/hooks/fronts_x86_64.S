/* fronts_x86_64.S: the exported symbols of the hot hooks (HOOK_FAST in hooks.def) and the
 * launch trampolines handed out by cuGetProcAddress (layer_kernels_drv.c), on x86-64.
 *
 * A front keeps the caller's arguments exactly in place: it saves the argument registers
 * (rdi and rsi only when the gates keep the other four themselves: gates.c), calls the gate in C with its descriptor and the one argument the check reads
 * (argument 0 or 1: a kernel, a CUfunction, a cuBLAS handle), restores the registers and
 * jumps to the address the gate returned: the real function, or the typed wrapper that
 * runs the policy. The stack arguments are never touched, and the jump returns straight to
 * the caller. Vector registers are not saved: no hot hook takes a floating-point argument
 * by value (hooks.def requires it), and the gates are integer code that passes none.
 * fast.h says why assembly. */
#define HOOK(layer, lib, ret, name, params, args)
#define HOOK_VOID(layer, lib, name, params, args)
#define HOOK_FAST(layer, lib, ret, name, check, pos, params, args) \
    DS_FRONT name, globl, ds_fastdesc_##name, check##_gate, pos

    .text

.macro DS_FRONT name, vis, desc, gate, pos
    .globl \name
    .ifc \vis, hidden
    .hidden \name
    .endif
    .type \name, @function
    .p2align 4
\name:
    .cfi_startproc
    endbr64
    push %rdi
    .cfi_adjust_cfa_offset 8
    push %rsi
    .cfi_adjust_cfa_offset 8
#ifndef DS_GATES_KEEP_ARGS
    push %rdx
    .cfi_adjust_cfa_offset 8
    push %rcx
    .cfi_adjust_cfa_offset 8
    push %r8
    .cfi_adjust_cfa_offset 8
    push %r9
    .cfi_adjust_cfa_offset 8
#endif
    sub $8, %rsp                     /* 2 or 6 pushes: the call needs 8 more for alignment */
    .cfi_adjust_cfa_offset 8
    .if \pos == 0
    mov %rdi, %rsi
    .endif
    lea \desc(%rip), %rdi
    call \gate
    add $8, %rsp
    .cfi_adjust_cfa_offset -8
#ifndef DS_GATES_KEEP_ARGS
    pop %r9
    .cfi_adjust_cfa_offset -8
    pop %r8
    .cfi_adjust_cfa_offset -8
    pop %rcx
    .cfi_adjust_cfa_offset -8
    pop %rdx
    .cfi_adjust_cfa_offset -8
#endif
    pop %rsi
    .cfi_adjust_cfa_offset -8
    pop %rdi
    .cfi_adjust_cfa_offset -8
    jmp *%rax
    .cfi_endproc
    .size \name, . - \name
.endm

#include "hooks.def"

/* The trampolines: ds_t<kind>_<slot>, kind l (cuLaunchKernel), e (cuLaunchKernelEx: the
 * CUfunction is argument 1), c (cuLaunchCooperativeKernel); descriptor ds_tdescs[kind][slot]
 * of two pointers (16 bytes), DS_TSLOTS (32) slots per kind. */
.macro DS_TRAMPS k, letter, pos
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    DS_FRONT ds_t\letter\()_\i, hidden, ds_tdescs+((\k*32+\i)*16), ds_tgate, \pos
    .endr
.endm
    DS_TRAMPS 0, l, 0
    DS_TRAMPS 1, e, 1
    DS_TRAMPS 2, c, 0

    .section .note.GNU-stack, "", @progbits
