// A stand-in for a node whose V8 lacks one symbol the stacks need (String::WriteUtf8): the
// node_api test dlopen's it into a process that has no V8. It exports the mangled names
// loopsan looks up, never to be called.
extern "C" {
void _ZN2v87Isolate13TryGetCurrentEv() {}
void _ZN2v87Isolate9InContextEv() {}
void _ZN2v87Isolate22IsExecutionTerminatingEv() {}
void _ZN2v86Locker8IsLockedEPNS_7IsolateE() {}
void _ZN2v87Isolate14GetStackSampleERKNS_13RegisterStateEPPvmPNS_10SampleInfoE() {}
void _ZN2v813RegisterStateC1Ev() {}
void _ZN2v813RegisterStateD1Ev() {}
void _ZN2v811HandleScopeC1EPNS_7IsolateE() {}
void _ZN2v811HandleScopeD1Ev() {}
void _ZN2v810StackTrace17CurrentStackTraceEPNS_7IsolateEiNS0_17StackTraceOptionsE() {}
void _ZNK2v810StackTrace13GetFrameCountEv() {}
void _ZNK2v810StackTrace8GetFrameEPNS_7IsolateEj() {}
void _ZNK2v810StackFrame15GetFunctionNameEv() {}
// Only the older name of the script-name getter: found as the fallback.
void _ZNK2v810StackFrame13GetScriptNameEv() {}
// Only the older line/column getters (V8 before GetLocation()).
void _ZNK2v810StackFrame13GetLineNumberEv() {}
void _ZNK2v810StackFrame9GetColumnEv() {}
void _ZNK2v86String10Utf8LengthEPNS_7IsolateE() {}
}
