/* A vendor library that lacks the hooked symbols: loaded under a real soname, it
 * lets tests see what the shim does when the real function cannot be found. */
int fake_empty_marker(void);
int fake_empty_marker(void) { return 42; }
