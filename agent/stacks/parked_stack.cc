#include "agent/stacks/parked_stack.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "agent/base/errno_saver.h"
#include "agent/base/json.h"
#include "agent/base/sys.h"
#include "agent/base/text.h"

namespace loopsan::parked {
namespace {

// Reads /proc/self/task/TID/<leaf> into `buf` (NUL-terminated); the length, or -1. One
// open/read/close each time, raw: no descriptor outlives the call.
long read_task_file(pid_t tid, const char* leaf, char* buf, size_t size) {
  char path[64] = "/proc/self/task/";
  size_t n = strlen(path);
  n += sys::format_u64(path + n, static_cast<uint64_t>(tid));
  path[n++] = '/';
  size_t leaf_len = strlen(leaf);
  if (n + leaf_len + 1 > sizeof path || size == 0) return -1;
  memcpy(path + n, leaf, leaf_len + 1);
  int fd = static_cast<int>(sys::call_with(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
  if (fd < 0) return -1;
  long len = sys::call_with(SYS_read, fd, buf, size - 1);
  sys::close(fd);
  if (len < 0) return -1;
  buf[len] = '\0';
  return len;
}

const char* skip_spaces(const char* p) {
  while (*p == ' ' || *p == '\t') ++p;
  return p;
}

// Parses "0x1f" (the kernel's format for arguments and registers); advances *p.
bool parse_hex(const char** p, uintptr_t* value) {
  const char* s = skip_spaces(*p);
  if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return false;
  s += 2;
  uintptr_t v = 0;
  const char* start = s;
  for (;; ++s) {
    char c = *s;
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      break;
    }
    v = (v << 4) | static_cast<uintptr_t>(digit);
  }
  if (s == start) return false;
  *value = v;
  *p = s;
  return true;
}

bool parse_decimal(const char** p, long* value) {
  const char* s = skip_spaces(*p);
  bool negative = *s == '-';
  if (negative) ++s;
  if (*s < '0' || *s > '9') return false;
  long v = 0;
  for (; *s >= '0' && *s <= '9'; ++s) v = v * 10 + (*s - '0');
  *value = negative ? -v : v;
  *p = s;
  return true;
}

template <typename T>
bool read_object(uintptr_t address, T* out) {
  return address != 0 && sys::read_memory(out, reinterpret_cast<const void*>(address), sizeof *out);
}

// A thread of this process (tgkill with signal 0 sends nothing: it only checks the thread).
bool is_our_thread(pid_t tid) {
  ErrnoSaver errno_saver;
  return tid > 0 && sys::call_with(SYS_tgkill, sys::getpid(), tid, 0) == 0;
}

// glibc's struct pthread begins with its TCB (tcbhead_t), whose `tcb` (+0) and `self` (+16)
// words point at the struct itself: how an address is recognised as a pthread_t.
bool looks_like_pthread(uintptr_t base) {
  uintptr_t words[3];
  return sys::read_memory(words, reinterpret_cast<const void*>(base), sizeof words) &&
         words[0] == base && words[2] == base;
}

// Where struct pthread keeps the kernel tid: pthread_join() sleeps on that word until the
// kernel clears it (CLONE_CHILD_CLEARTID), with the joined tid as the expected value. glibc
// 2.36 has it at +0x2d0; found here rather than hard-coded, by looking for the calling
// thread's tid in its own struct pthread.
std::atomic<int> tid_offset{-2};  // -2: not searched yet, -1: not found

int pthread_tid_offset() {
  int known = tid_offset.load(std::memory_order_acquire);
  if (known != -2) return known;
  int found = -1;
  auto self = static_cast<uintptr_t>(pthread_self());
  pid_t tid = sys::gettid();
  if (looks_like_pthread(self)) {
    // Past the TCB header (its words are pointers, canaries and flags); within the first 4 KiB.
    for (int offset = 24; offset + 4 <= 4096; offset += 4) {
      pid_t value = 0;
      if (!read_object(self + static_cast<uintptr_t>(offset), &value)) break;
      if (value == tid) {
        found = offset;
        break;
      }
    }
  }
  tid_offset.store(found, std::memory_order_release);
  return found;
}

// The kind word holds the type (0-3) and flags: robust 16, priority inherit 32, priority
// protect 64, pshared 128, elision 256, no elision 512 (glibc pthreadP.h).
bool plausible_mutex_kind(int kind) {
  return kind >= 0 && (kind & ~(3 | 16 | 32 | 64 | 128 | 256 | 512)) == 0;
}

bool describe_futex(const Syscall& call, WaitTarget* t) {
  uintptr_t uaddr = call.args[0];
  int op = static_cast<int>(call.args[1]) & FUTEX_CMD_MASK;
  auto value = static_cast<uint32_t>(call.args[2]);
  t->kind = WaitTarget::Kind::kFutex;
  t->object = uaddr;
  if (op == FUTEX_LOCK_PI || op == FUTEX_LOCK_PI2) {
    // A priority-inheritance mutex: the futex word is __lock, the owner's tid with flag bits.
    uint32_t word = 0;
    if (read_object(uaddr, &word)) {
      t->kind = WaitTarget::Kind::kMutex;
      t->owner = static_cast<pid_t>(word & FUTEX_TID_MASK);
    }
    return true;
  }
  if (op != FUTEX_WAIT && op != FUTEX_WAIT_BITSET) return true;

  // pthread_join: the word is the joined thread's tid, inside a struct pthread.
  int offset = pthread_tid_offset();
  if (offset > 0 && static_cast<int32_t>(value) > 0 && uaddr > static_cast<uintptr_t>(offset)) {
    pid_t now = 0;
    uintptr_t base = uaddr - static_cast<uintptr_t>(offset);
    if (read_object(uaddr, &now) && now == static_cast<pid_t>(value) && looks_like_pthread(base)) {
      t->kind = WaitTarget::Kind::kJoin;
      t->object = base;
      t->owner = now;
      return true;
    }
  }

  // A contended pthread_mutex_lock sleeps in __lll_lock_wait with the value 2 ("locked, with
  // waiters") on the mutex's first word; the owner's tid is 8 bytes further.
  if (value == 2) {
    MutexWords m{};
    if (read_object(uaddr, &m) && m.lock != 0 && plausible_mutex_kind(m.kind) &&
        (m.owner == 0 || m.owner == kOwnerDied || is_our_thread(m.owner))) {
      t->kind = WaitTarget::Kind::kMutex;
      t->owner = m.owner;
      return true;
    }
  }

  // libstdc++'s futures wait in __atomic_futex_unsigned_base::_M_futex_wait_until on the
  // state's _M_status (16 bytes into _State_baseV2, after its vptr and _M_result) with the
  // waiter bit (0x80000000) set: FUTEX_WAIT without a deadline, FUTEX_WAIT_BITSET (every bit)
  // with one. The state's dynamic type says it is one.
  bool bitset_ok =
      op == FUTEX_WAIT || static_cast<uint32_t>(call.args[5]) == FUTEX_BITSET_MATCH_ANY;
  if (bitset_ok && (value & 0x80000000u) != 0 && uaddr >= 16) {
    uintptr_t state = uaddr - 16;
    uintptr_t vptr = 0, typeinfo = 0, name = 0;
    char text[sizeof t->type] = {};
    if (read_object(state, &vptr) && read_object(vptr - sizeof(uintptr_t), &typeinfo) &&
        read_object(typeinfo + sizeof(uintptr_t), &name)) {
      // The name may end before the buffer does, on the last readable page: read what can be.
      for (size_t len = sizeof text - 1; len > 0; len /= 2) {
        if (sys::read_memory(text, reinterpret_cast<const void*>(name), len)) break;
      }
      text[sizeof text - 1] = '\0';
      if (strstr(text, "__future_base") != nullptr) {
        t->kind = WaitTarget::Kind::kFuture;
        t->object = state;
        memcpy(t->type, text, sizeof t->type);
      }
    }
  }
  return true;
}

struct Name {
  long nr;
  const char* name;
  WaitTarget::Kind kind;
};

// x86_64 system-call numbers (asm/unistd_64.h) of the calls a thread waits in.
constexpr Name kCalls[] = {
    {SYS_read, "read", WaitTarget::Kind::kDescriptor},
    {SYS_write, "write", WaitTarget::Kind::kDescriptor},
    {SYS_pread64, "pread64", WaitTarget::Kind::kDescriptor},
    {SYS_pwrite64, "pwrite64", WaitTarget::Kind::kDescriptor},
    {SYS_readv, "readv", WaitTarget::Kind::kDescriptor},
    {SYS_writev, "writev", WaitTarget::Kind::kDescriptor},
    {SYS_preadv, "preadv", WaitTarget::Kind::kDescriptor},
    {SYS_pwritev, "pwritev", WaitTarget::Kind::kDescriptor},
    {SYS_preadv2, "preadv2", WaitTarget::Kind::kDescriptor},
    {SYS_pwritev2, "pwritev2", WaitTarget::Kind::kDescriptor},
    {SYS_recvfrom, "recvfrom", WaitTarget::Kind::kDescriptor},
    {SYS_recvmsg, "recvmsg", WaitTarget::Kind::kDescriptor},
    {SYS_recvmmsg, "recvmmsg", WaitTarget::Kind::kDescriptor},
    {SYS_sendto, "sendto", WaitTarget::Kind::kDescriptor},
    {SYS_sendmsg, "sendmsg", WaitTarget::Kind::kDescriptor},
    {SYS_sendmmsg, "sendmmsg", WaitTarget::Kind::kDescriptor},
    {SYS_sendfile, "sendfile", WaitTarget::Kind::kDescriptor},
    {SYS_accept, "accept", WaitTarget::Kind::kDescriptor},
    {SYS_accept4, "accept4", WaitTarget::Kind::kDescriptor},
    {SYS_connect, "connect", WaitTarget::Kind::kDescriptor},
    {SYS_flock, "flock", WaitTarget::Kind::kDescriptor},
    {SYS_fcntl, "fcntl", WaitTarget::Kind::kDescriptor},
    {SYS_fsync, "fsync", WaitTarget::Kind::kDescriptor},
    {SYS_fdatasync, "fdatasync", WaitTarget::Kind::kDescriptor},
    {SYS_ioctl, "ioctl", WaitTarget::Kind::kDescriptor},
    {SYS_poll, "poll", WaitTarget::Kind::kPoll},
    {SYS_ppoll, "ppoll", WaitTarget::Kind::kPoll},
    {SYS_select, "select", WaitTarget::Kind::kPoll},
    {SYS_pselect6, "pselect6", WaitTarget::Kind::kPoll},
    {SYS_epoll_wait, "epoll_wait", WaitTarget::Kind::kPoll},
    {SYS_epoll_pwait, "epoll_pwait", WaitTarget::Kind::kPoll},
#ifdef SYS_epoll_pwait2
    {SYS_epoll_pwait2, "epoll_pwait2", WaitTarget::Kind::kPoll},
#endif
    {SYS_nanosleep, "nanosleep", WaitTarget::Kind::kSleep},
    {SYS_clock_nanosleep, "clock_nanosleep", WaitTarget::Kind::kSleep},
    {SYS_pause, "pause", WaitTarget::Kind::kSignal},
    {SYS_rt_sigsuspend, "rt_sigsuspend", WaitTarget::Kind::kSignal},
    {SYS_rt_sigtimedwait, "rt_sigtimedwait", WaitTarget::Kind::kSignal},
    {SYS_wait4, "wait4", WaitTarget::Kind::kChild},
    {SYS_waitid, "waitid", WaitTarget::Kind::kChild},
    {SYS_futex, "futex", WaitTarget::Kind::kFutex},
    {SYS_msgrcv, "msgrcv", WaitTarget::Kind::kNone},
    {SYS_semop, "semop", WaitTarget::Kind::kNone},
    {SYS_semtimedop, "semtimedop", WaitTarget::Kind::kNone},
    {SYS_io_getevents, "io_getevents", WaitTarget::Kind::kNone},
    {SYS_io_uring_enter, "io_uring_enter", WaitTarget::Kind::kNone},
};

const Name* find_call(long nr) {
  for (const Name& n : kCalls) {
    if (n.nr == nr) return &n;
  }
  return nullptr;
}

bool same_place(const Syscall& a, const Syscall& b) {
  return a.state == b.state && a.nr == b.nr && a.sp == b.sp && a.pc == b.pc;
}

}  // namespace

Syscall read_syscall(pid_t tid) {
  ErrnoSaver errno_saver;
  Syscall call;
  // "nr a0 a1 a2 a3 a4 a5 sp pc", "-1 sp pc" (blocked outside a system call) or "running".
  char buf[256];
  if (tid <= 0 || read_task_file(tid, "syscall", buf, sizeof buf) <= 0) return call;
  if (strncmp(buf, "running", 7) == 0) {
    call.state = Syscall::State::kRunning;
    return call;
  }
  const char* p = buf;
  long nr = 0;
  if (!parse_decimal(&p, &nr)) return call;
  if (nr >= 0) {
    for (uintptr_t& a : call.args) {
      if (!parse_hex(&p, &a)) return call;
    }
  }
  if (!parse_hex(&p, &call.sp) || !parse_hex(&p, &call.pc)) return call;
  call.nr = nr;
  call.state = Syscall::State::kParked;
  return call;
}

void sample(pid_t tid, Stack* out, int max) {
  out->size = 0;
  out->call = read_syscall(tid);
  for (int attempt = 0; attempt < 2 && out->call.state == Syscall::State::kParked; ++attempt) {
    int size = unwind_registers(out->call.pc, out->call.sp, out->ips, max);
    // The walk read a stack the thread owns: if it woke up meanwhile, the frames may mix two
    // moments. The same call at the same sp and pc afterwards means it did not move (a wake-up
    // and a return to the very same wait in between would give the same, correct, stack).
    Syscall after = read_syscall(tid);
    if (same_place(after, out->call)) {
      out->size = size;
      return;
    }
    out->call = after;
  }
}

WaitTarget wait_target(const Syscall& call) {
  WaitTarget t;
  if (call.state != Syscall::State::kParked || call.nr < 0) return t;
  const Name* n = find_call(call.nr);
  if (n == nullptr) return t;
  switch (n->kind) {
    case WaitTarget::Kind::kFutex:
      describe_futex(call, &t);
      break;
    case WaitTarget::Kind::kDescriptor:
      t.kind = n->kind;
      t.object = static_cast<uintptr_t>(static_cast<int>(call.args[0]));
      break;
    case WaitTarget::Kind::kPoll:
      t.kind = n->kind;
      // epoll's first argument is its descriptor; poll/select wait on a set.
      if (call.nr == SYS_epoll_wait || call.nr == SYS_epoll_pwait
#ifdef SYS_epoll_pwait2
          || call.nr == SYS_epoll_pwait2
#endif
      ) {
        t.object = static_cast<uintptr_t>(static_cast<int>(call.args[0]));
      }
      break;
    case WaitTarget::Kind::kChild:
      t.kind = n->kind;
      // wait4(pid, ...), waitid(idtype, id, ...)
      t.object = call.nr == SYS_waitid ? call.args[1] : call.args[0];
      break;
    default:
      t.kind = n->kind;
      break;
  }
  return t;
}

const char* syscall_name(long nr) {
  const Name* n = find_call(nr);
  return n != nullptr ? n->name : nullptr;
}

const char* kind_name(WaitTarget::Kind kind) {
  switch (kind) {
    case WaitTarget::Kind::kNone:
      return "none";
    case WaitTarget::Kind::kMutex:
      return "mutex";
    case WaitTarget::Kind::kJoin:
      return "join";
    case WaitTarget::Kind::kFuture:
      return "future";
    case WaitTarget::Kind::kFutex:
      return "futex";
    case WaitTarget::Kind::kDescriptor:
      return "descriptor";
    case WaitTarget::Kind::kPoll:
      return "poll";
    case WaitTarget::Kind::kSleep:
      return "sleep";
    case WaitTarget::Kind::kSignal:
      return "signal";
    case WaitTarget::Kind::kChild:
      return "child";
  }
  return "none";
}

std::string waiting_in(const Syscall& call) {
  switch (call.state) {
    case Syscall::State::kGone:
      return "exited";
    case Syscall::State::kRunning:
      return "running";
    case Syscall::State::kParked:
      break;
  }
  if (call.nr < 0) return "not in a system call";
  const char* name = syscall_name(call.nr);
  return name != nullptr ? std::string(name) : cat("syscall ", call.nr);
}

DescriptorInfo describe_descriptor(int fd) {
  ErrnoSaver errno_saver;
  DescriptorInfo d;
  char link[64], target[512];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  long n = sys::call_with(SYS_readlink, link, target, sizeof target - 1);
  if (n > 0) d.path.assign(target, static_cast<size_t>(n));
  if (d.path.rfind("socket:", 0) != 0) return d;
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (sys::call_with(SYS_getpeername, fd, &addr, &len) != 0) return d;
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    d.peer = cat(host, ":", ntohs(in->sin_port));
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    d.peer = cat("[", host, "]:", ntohs(in6->sin6_port));
  } else if (addr.ss_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&addr);
    size_t max = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    // An abstract socket's name starts with a NUL; an unnamed peer has none.
    if (max > 0 && un->sun_path[0] != 0) {
      d.peer = std::string(un->sun_path, strnlen(un->sun_path, max));
    } else if (max > 1) {
      d.peer = cat("@", std::string(un->sun_path + 1, strnlen(un->sun_path + 1, max - 1)));
    } else {
      d.peer = "unnamed";
    }
  }
  return d;
}

std::string descriptor_words(int fd) {
  DescriptorInfo d = describe_descriptor(fd);
  std::string words = cat("descriptor ", fd);
  if (!d.path.empty())
    words += cat(" (", d.path, d.peer.empty() ? "" : cat(", peer ", d.peer), ")");
  return words;
}

std::string waiting_for_json(const WaitTarget& t) {
  if (t.kind == WaitTarget::Kind::kNone) return "null";
  JsonWriter w;
  w.begin_object().field("kind", kind_name(t.kind));
  switch (t.kind) {
    case WaitTarget::Kind::kDescriptor:
    case WaitTarget::Kind::kPoll:
      if (t.kind == WaitTarget::Kind::kDescriptor || t.object != 0) {
        int fd = static_cast<int>(t.object);
        w.field("fd", static_cast<int64_t>(fd));
        DescriptorInfo d = describe_descriptor(fd);
        if (!d.path.empty()) w.field("path", d.path);
        if (!d.peer.empty()) w.field("peer", d.peer);
      }
      break;
    case WaitTarget::Kind::kChild:
      w.field("pid", static_cast<int64_t>(static_cast<pid_t>(t.object)));
      break;
    case WaitTarget::Kind::kMutex:
      w.key("object").hex(t.object);
      if (t.owner == kOwnerDied) {
        w.field("owner_died", true);
      } else if (t.owner != 0) {
        w.field("owner_tid", static_cast<int64_t>(t.owner));
      }
      break;
    case WaitTarget::Kind::kJoin:
      w.key("object").hex(t.object);
      w.field("joined_tid", static_cast<int64_t>(t.owner));
      break;
    case WaitTarget::Kind::kFuture:
      w.key("object").hex(t.object);
      w.field("type", t.type);
      break;
    case WaitTarget::Kind::kFutex:
      w.key("object").hex(t.object);
      break;
    default:
      break;
  }
  w.end_object();
  return w.str();
}

std::string task_name(pid_t tid) {
  ErrnoSaver errno_saver;
  char buf[32];
  long n = read_task_file(tid, "comm", buf, sizeof buf);
  if (n <= 0) return {};
  if (buf[n - 1] == '\n') buf[n - 1] = '\0';
  return buf;
}

int pthread_tid_offset_for_testing() {
  return pthread_tid_offset();
}

}  // namespace loopsan::parked
