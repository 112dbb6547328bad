/* pystack.h: the Python stack of the calling thread, for events (pystack.c). */
#ifndef DETSHIM_PYSTACK_H
#define DETSHIM_PYSTACK_H
#include <stddef.h>
#include <stdint.h>

struct jbuf;
/* The Python frames into an event ("pystack"), or why there are none ("pystack_note"). */
void ds_pystack_render(struct jbuf *jb);

/* A hash of the calling thread's innermost Python frames (at most 8: code object and
 * instruction), for telling call sites apart when the native stack is the interpreter's
 * and the same for every Python line. Read without the GIL; 0 when the thread has no
 * Python frames or the process runs no Python. */
uint64_t ds_pystack_hash(int depth);
/* The same from what every run of the program shares (file and function names, lines), for
 * call-site ids that compare between runs (hash traces). */
uint64_t ds_pystack_hash_stable(int depth);
/* The innermost max Python frames as text lines for stderr ("  at file.py:12 in f\n",
 * then "      file.py:30 in <module>\n"); returns the length (0: none). */
size_t ds_pystack_text(char *buf, size_t cap, int max);
#endif
