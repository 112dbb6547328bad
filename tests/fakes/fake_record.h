/* fake_record.h: what the fake vendor libraries share. Each fake call appends one
 * line "<symbol> key=value ..." to the file named by $DETSHIM_FAKE_RECORD (when set),
 * so tests can assert what the shim made the vendor library see. */
#ifndef FAKE_RECORD_H
#define FAKE_RECORD_H
void fake_record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
