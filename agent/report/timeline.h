// The timeline: what each thread spent its time on, for `loopsan report --format html`
// (timeline=1; off by default). Findings say what went wrong; the timeline shows the run around
// them: loop busy spans (from leaving a loop wait to entering the next), blocking calls on loop
// threads, pool tasks' queue waits and runs, GIL waits, loop and thread starts and exits.
//
// Recording: each thread that has something to record gets a fixed-size single-producer ring
// (allocated on its first span, in agent code, never in a signal handler or a vfork child);
// the producing side takes no lock. Spans shorter than timeline_min_ms are never recorded, so
// the wrappers' fast paths compare a duration they already have (or one clock read at a loop
// wait) and call out only for spans worth drawing. A full ring, or a process past its total
// cap, drops events and counts them (the summary's timeline_dropped); so does a thread that
// finds the live rings at their cap (256).
//
// Draining: the watchdog thread (core/watchdog.h, kTimeline) turns each ring's new events into
// `{"type":"timeline",...}` report lines about once a second, each under 64 KiB and written with
// one write(); the rest at exit, before the summary. A thread's ring is freed once the thread
// has exited and its events are written.
#pragma once

#include <atomic>
#include <cstdint>

namespace loopsan::timeline {

// The event codes, as the report line spells them (timeline.cc, kCodeNames).
enum Code : uint16_t {
  kBusy = 1,     // a loop thread ran callbacks between two loop waits
  kBlock,        // a blocking call on a loop thread (arg: the call)
  kQueue,        // a pool task waited in its pool's queue, on the worker that took it (arg: pool)
  kTask,         // a pool worker ran a task (arg: pool)
  kGil,          // a Python thread waited for the GIL
  kLoopStart,    // instant: the thread's loop waited for the first time
  kThreadStart,  // instant: when the thread started (as the registry knew it)
  kThreadExit,   // instant: the thread ended
  kLoopEnd,      // instant: the thread's loop ended (C API, asyncio, a library's loop function)
  kCodeEnd
};

// Whether recording is on (timeline=1). The wrappers read events::g_timeline_on and
// events::g_timeline_min_ns (agent/events.h), which init() sets.
bool on();

// Records a span [start_ns, end_ns] (CLOCK_MONOTONIC) on the calling thread, `arg` an optional
// name (copied). Agent code only: the caller holds the re-entrancy guard and keeps errno.
// Does nothing in a signal handler or a vfork child.
void record(Code code, int64_t start_ns, int64_t end_ns, const char* arg = nullptr);

// Events dropped so far (full rings, total cap, no ring to be had), for the summary.
uint64_t dropped();
// Rings allocated and not yet freed (at most 256), for tests.
int live_rings();

// The module table's hooks (core/module.h) and the watchdog's check (core/watchdog.h).
void init();
void thread_exiting();
void drain_at_exit();
void reset_after_fork();
int64_t period_ns();
bool tick(int64_t now_ns);

}  // namespace loopsan::timeline
