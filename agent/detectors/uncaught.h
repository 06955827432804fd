// uncaught-exception: a C++ exception escapes a thread's body or main. libstdc++ then calls the
// terminate handler on the throwing thread, with the exception still current; loopsan's
// handler writes the finding and passes on to the handler the host installed (by default
// libstdc++'s verbose handler, which aborts): the process ends exactly as it would have.
#pragma once

namespace loopsan::uncaught {

using Handler = void (*)();

// Installs loopsan's handler through libstdc++'s real std::set_terminate.
void install(Handler (*real_set_terminate)(Handler));

// The host's std::set_terminate / std::get_terminate: the host keeps its own view.
Handler host_set(Handler handler);
Handler host_get();

}  // namespace loopsan::uncaught
