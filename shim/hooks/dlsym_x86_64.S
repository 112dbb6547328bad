/* dlsym_x86_64.S: the exported dlsym and dlvsym (dlsym.c says why and what they decide).
 *
 * glibc's dlsym takes the caller from its own return address: RTLD_NEXT means "after the
 * object that called dlsym", and RTLD_DEFAULT is searched from the caller's namespace. A C
 * wrapper would make every such lookup relative to the shim. So these fronts keep the
 * caller: for RTLD_DEFAULT and RTLD_NEXT they jump straight to the next dlsym/dlvsym (the
 * return address on the stack is still the caller's), and only a lookup on a real handle,
 * where glibc ignores the caller, goes to C (ds_dlsym_handle / ds_dlvsym_handle, with the
 * caller's return address as the last argument, so the shim can leave its own lookups
 * alone). The next functions are found once, by ds_dlsym_init, without calling dlsym. */

    .text

/* DS_DLFRONT name, next, handle_fn, callerreg: handle in rdi.
 * Exported under glibc's two versions of the name (dlsym.map), so that a library that asks
 * for dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34") or "GLIBC_2.2.5", as dlsym wrappers do,
 * finds this one when it comes next, as it finds libc's: an unversioned definition would be
 * skipped by such a lookup. */
.macro DS_DLFRONT name, next, handle_fn, callerreg
    .globl ds_\name\()_new, ds_\name\()_old
    .type ds_\name\()_new, @function
    .type ds_\name\()_old, @function
    .symver ds_\name\()_new, \name@@GLIBC_2.34, remove
    .symver ds_\name\()_old, \name@GLIBC_2.2.5, remove
    .p2align 4
ds_\name\()_new:
ds_\name\()_old:
    .cfi_startproc
    endbr64
    lea 1(%rdi), %rax                /* RTLD_NEXT (-1) -> 0, RTLD_DEFAULT (0) -> 1 */
    cmp $1, %rax
    jbe 1f
    mov (%rsp), \callerreg           /* a handle: C decides, told who called */
    jmp \handle_fn
1:  mov \next(%rip), %rax
    test %rax, %rax
    jz 2f
    jmp *%rax                        /* the caller's return address is untouched */
2:  push %rdi                        /* first use: find the next functions */
    .cfi_adjust_cfa_offset 8
    push %rsi
    .cfi_adjust_cfa_offset 8
    push %rdx
    .cfi_adjust_cfa_offset 8
    call ds_dlsym_init
    pop %rdx
    .cfi_adjust_cfa_offset -8
    pop %rsi
    .cfi_adjust_cfa_offset -8
    pop %rdi
    .cfi_adjust_cfa_offset -8
    mov \next(%rip), %rax
    test %rax, %rax
    jz 3f
    jmp *%rax
3:  xor %eax, %eax                   /* no dlsym anywhere: cannot happen with glibc */
    ret
    .cfi_endproc
    .size ds_\name\()_new, . - ds_\name\()_new
    .size ds_\name\()_old, . - ds_\name\()_old
.endm

    DS_DLFRONT dlsym, ds_next_dlsym, ds_dlsym_handle, %rdx
    DS_DLFRONT dlvsym, ds_next_dlvsym, ds_dlvsym_handle, %rcx

    .section .note.GNU-stack, "", @progbits
