// A stand-in for libpython that the cpython_api test dlopen's into a process that has no
// Python: it exports the names loopsan looks up, never to be called. Like a CPython before
// 3.13 it has only _Py_IsFinalizing, and it lacks one symbol of the hooks (PySys_AddAuditHook)
// so that the test can see a feature go missing alone.
extern "C" {
void Py_IsInitialized() {}
void _Py_IsFinalizing() {}
void PyGILState_GetThisThreadState() {}
void _Py_DumpTraceback() {}
void PyGILState_Check() {}
void Py_GetVersion() {}
void PyCFunction_NewEx() {}
void PyDict_New() {}
void PyDict_SetItemString() {}
void PyEval_GetBuiltins() {}
void Py_CompileString() {}
void PyEval_EvalCode() {}
void PyErr_Fetch() {}
void PyErr_Restore() {}
void PyErr_Print() {}
void PyArg_ParseTuple() {}
void PyTuple_GetItem() {}
void PyUnicode_AsUTF8() {}
void Py_IncRef() {}
void Py_DecRef() {}
char _Py_NoneStruct[16];
}
