/* pystack.h: the Python stack of the calling thread, for events (pystack.c). */
#ifndef DETSHIM_PYSTACK_H
#define DETSHIM_PYSTACK_H
#include <stdint.h>

struct jbuf;
/* The Python frames into an event ("pystack"), or why there are none ("pystack_note"). */
void ds_pystack_render(struct jbuf *jb);

/* A hash of the calling thread's innermost Python frames (code object and line), for
 * telling call sites apart when the native stack is the interpreter's and the same for
 * every Python line. 0 when the thread holds no GIL or the process runs no Python. */
uint64_t ds_pystack_hash(int depth);
/* The same from what every run of the program shares (file and function names, lines), for
 * call-site ids that compare between runs (hash traces). */
uint64_t ds_pystack_hash_stable(int depth);
#endif
