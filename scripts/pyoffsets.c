/* pyoffsets.c: prints the row of shim/core/pyframes.c for the CPython whose headers it is
 * compiled against:
 *   gcc -I$P/include/python3.X -I$P/include/python3.X/internal scripts/pyoffsets.c && ./a.out */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#if PY_VERSION_HEX >= 0x030b0000
#include <internal/pycore_frame.h>
#else
#include <frameobject.h>
#endif
int main(void)
{
    printf("    {%d, %d, ", PY_MAJOR_VERSION, PY_MINOR_VERSION);
#if PY_VERSION_HEX >= 0x030d0000
    printf(".ts_frame = %zu, .cf_current = -1, ", offsetof(PyThreadState, current_frame));
    printf(".f_back = %zu, .f_code = %zu, .f_instr = %zu, .f_owner = %zu, ",
           offsetof(_PyInterpreterFrame, previous), offsetof(_PyInterpreterFrame, f_executable),
           offsetof(_PyInterpreterFrame, instr_ptr), offsetof(_PyInterpreterFrame, owner));
#elif PY_VERSION_HEX >= 0x030b0000
    printf(".ts_frame = %zu, .cf_current = %zu, ", offsetof(PyThreadState, cframe),
           offsetof(_PyCFrame, current_frame));
    printf(".f_back = %zu, .f_code = %zu, .f_instr = %zu, .f_owner = %zu, ",
           offsetof(_PyInterpreterFrame, previous), offsetof(_PyInterpreterFrame, f_code),
           offsetof(_PyInterpreterFrame, prev_instr), offsetof(_PyInterpreterFrame, owner));
#else
    printf(".ts_frame = %zu, .cf_current = -1, ", offsetof(PyThreadState, frame));
    printf(".f_back = %zu, .f_code = %zu, .f_instr = %zu, .f_owner = -1, ",
           offsetof(PyFrameObject, f_back), offsetof(PyFrameObject, f_code),
           offsetof(PyFrameObject, f_lasti));
#endif
    printf(".co_filename = %zu, .co_name = %zu, .co_firstlineno = %zu, ",
           offsetof(PyCodeObject, co_filename), offsetof(PyCodeObject, co_name),
           offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX >= 0x030a0000
    printf(".co_lines = %zu, ", offsetof(PyCodeObject, co_linetable));
#else
    printf(".co_lines = %zu, ", offsetof(PyCodeObject, co_lnotab));
#endif
#if PY_VERSION_HEX >= 0x030b0000
    printf(".co_code = %zu, .co_firsttraceable = %zu, ", offsetof(PyCodeObject, co_code_adaptive),
           offsetof(PyCodeObject, _co_firsttraceable));
#else
    printf(".co_code = -1, .co_firsttraceable = -1, ");
#endif
    printf(".bytes_data = %zu, .str_state = %zu, .str_ascii = %zu, .str_compact = %zu},\n",
           offsetof(PyBytesObject, ob_sval), offsetof(PyASCIIObject, state),
           sizeof(PyASCIIObject), sizeof(PyCompactUnicodeObject));
    return 0;
}
