// Test boundaries (loopsan_test_begin/end, include/loopsan/loopsan.h): findings raised while a
// test is open, on any thread, count for that test, repeats of earlier findings included, and
// the test keeps an excerpt of them for its harness to put in a failure message.
//
// Whether a test is open is one atomic load, so that the reporter and the repeat counters pay
// nothing outside tests. The open test's record sits in fixed storage behind a Lock taken only
// by agent code (never from a signal handler): bounded whatever the number of tests or findings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/report/finding.h"

namespace loopsan::test_attribution {

// The C API.
void begin(const char* name);
uint64_t end();
size_t report(char* buf, size_t size);
size_t kinds(char* buf, size_t size);

// The reporter's side. A ticket for the test open when a finding is raised (generation 0: none).
struct OpenTest {
  uint64_t generation = 0;
  std::string name;
};
OpenTest open_test();

// The text a finding contributes to a test's excerpt, without its closing ")\n" (the excerpt
// says there whether the finding is new or a repeat).
std::string excerpt_block(Kind kind, const std::string& message, const std::string& where,
                          const ThreadInfo& thread, const std::string& report_path,
                          const char* id_text);

// A new finding was written (`slot` of the finding table, -1 when it was full): its block is
// kept for later repeats, and it counts for the test `ticket` if that is still open.
void finding_written(int slot, const OpenTest& ticket, Kind kind, uint64_t id, std::string block);

// Another occurrence of the finding of table slot `slot` (finding_table, every repeat).
void finding_repeated(int slot);

void reset_after_fork();

}  // namespace loopsan::test_attribution
