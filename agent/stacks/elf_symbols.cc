#include "agent/stacks/elf_symbols.h"

#include <cxxabi.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "agent/base/lock.h"
#include "agent/base/sys.h"

namespace loopsan::elf_symbols {
namespace {

struct Symbol {
  uint64_t start;
  uint64_t size;
  const char* name;  // inside the mapping
};

// One object file's function symbols, sorted by address. The names point into the mapping,
// which goes with the table; a table other threads may have found is never destroyed.
class SymbolTable {
 public:
  SymbolTable() = default;
  SymbolTable(const SymbolTable&) = delete;
  SymbolTable& operator=(const SymbolTable&) = delete;
  ~SymbolTable() {
    if (data_ != nullptr) munmap(const_cast<char*>(data_), size_);
  }

  bool load(const std::string& path) {
    int fd =
        static_cast<int>(sys::call_with(SYS_openat, AT_FDCWD, path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd < 0) return false;
    struct stat st;
    bool ok = sys::call_with(SYS_fstat, fd, &st) == 0 &&
              st.st_size >= static_cast<off_t>(sizeof(Elf64_Ehdr));
    void* map = ok ? mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0)
                   : MAP_FAILED;
    sys::close(fd);
    if (map == MAP_FAILED) return false;
    data_ = static_cast<const char*>(map);
    size_ = static_cast<size_t>(st.st_size);
    return parse();
  }

  const Symbol* find(uint64_t vaddr) const {
    auto it = std::upper_bound(symbols_.begin(), symbols_.end(), vaddr,
                               [](uint64_t a, const Symbol& s) { return a < s.start; });
    if (it == symbols_.begin()) return nullptr;
    --it;
    // A zero-sized symbol (hand-written assembly) covers up to the next symbol.
    if (it->size != 0 && vaddr >= it->start + it->size) return nullptr;
    return &*it;
  }

  bool has_symtab() const { return has_symtab_; }

 private:
  template <typename T>
  const T* at(uint64_t offset, uint64_t count = 1) const {
    if (offset > size_ || count > (size_ - offset) / sizeof(T)) return nullptr;
    return reinterpret_cast<const T*>(data_ + offset);
  }

  bool parse() {
    const auto* eh = at<Elf64_Ehdr>(0);
    if (eh == nullptr || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(Elf64_Shdr)) {
      return false;
    }
    const auto* sections = at<Elf64_Shdr>(eh->e_shoff, eh->e_shnum);
    if (sections == nullptr) return false;
    for (int pass = 0; pass < 2; ++pass) {
      // .symtab has every function; .dynsym only the exported ones. Use the first found.
      uint32_t wanted = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;
      for (unsigned i = 0; i < eh->e_shnum; ++i) {
        const Elf64_Shdr& sh = sections[i];
        if (sh.sh_type != wanted || sh.sh_link >= eh->e_shnum) continue;
        if (add_symbols(sh, sections[sh.sh_link]) && pass == 0) has_symtab_ = true;
      }
      if (!symbols_.empty()) break;
    }
    std::sort(symbols_.begin(), symbols_.end(),
              [](const Symbol& a, const Symbol& b) { return a.start < b.start; });
    return !symbols_.empty();
  }

  bool add_symbols(const Elf64_Shdr& symtab, const Elf64_Shdr& strtab) {
    if (symtab.sh_entsize != sizeof(Elf64_Sym) || strtab.sh_type != SHT_STRTAB) return false;
    const auto* syms = at<Elf64_Sym>(symtab.sh_offset, symtab.sh_size / sizeof(Elf64_Sym));
    const char* strings = at<char>(strtab.sh_offset, strtab.sh_size);
    if (syms == nullptr || strings == nullptr || strtab.sh_size == 0) return false;
    size_t count = symtab.sh_size / sizeof(Elf64_Sym);
    for (size_t i = 0; i < count; ++i) {
      const Elf64_Sym& s = syms[i];
      int type = ELF64_ST_TYPE(s.st_info);
      if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF ||
          s.st_value == 0 || s.st_name >= strtab.sh_size) {
        continue;
      }
      // Names must end inside the string table.
      const char* name = strings + s.st_name;
      if (memchr(name, '\0', strtab.sh_size - s.st_name) == nullptr) continue;
      symbols_.push_back(Symbol{s.st_value, s.st_size, name});
    }
    return true;
  }

  const char* data_ = nullptr;
  size_t size_ = 0;
  bool has_symtab_ = false;
  std::vector<Symbol> symbols_;
};

std::string demangle(const char* name) {
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string result = status == 0 && out != nullptr ? out : name;
  free(out);
  return result;
}

Lock lock;
// Path -> table (null when the file has no usable symbols). Leaked with the process.
std::map<std::string, std::unique_ptr<SymbolTable>>* tables = nullptr;
// Bumped by forget(): a table parsed while its library went away may describe the old file.
uint64_t generation = 0;

// Loads the table for `path`, preferring a separate debug file (Debian's -dbgsym packages)
// when the object itself was stripped of .symtab.
std::unique_ptr<SymbolTable> load_table(const std::string& path, const std::string& build_id) {
  auto table = std::make_unique<SymbolTable>();
  bool loaded = table->load(path);
  if ((!loaded || !table->has_symtab()) && build_id.size() > 2) {
    std::string debug =
        "/usr/lib/debug/.build-id/" + build_id.substr(0, 2) + "/" + build_id.substr(2) + ".debug";
    auto separate = std::make_unique<SymbolTable>();
    if (separate->load(debug)) return separate;
  }
  return loaded ? std::move(table) : nullptr;
}

}  // namespace

std::string function_at(const std::string& path, const std::string& build_id, uintptr_t vaddr) {
  if (path.empty() || path[0] != '/') return {};
  const SymbolTable* table = nullptr;
  std::unique_ptr<SymbolTable> uncached;  // for this lookup only
  uint64_t seen_generation;
  {
    LockGuard g(lock);
    if (tables == nullptr) tables = new std::map<std::string, std::unique_ptr<SymbolTable>>();
    auto it = tables->find(path);
    if (it != tables->end()) {
      table = it->second.get();
      if (table == nullptr) return {};
    }
    seen_generation = generation;
  }
  if (table == nullptr) {
    // Parsed outside the lock; a racing thread may parse the same file, the first one wins.
    std::unique_ptr<SymbolTable> fresh = load_table(path, build_id);
    LockGuard g(lock);
    if (generation != seen_generation) {
      // A library was unloaded meanwhile, maybe this one: the table may describe a file that
      // is gone. Good enough for this lookup, not to be kept.
      uncached = std::move(fresh);
      table = uncached.get();
      if (table == nullptr) return {};
    } else {
      auto [it, inserted] = tables->try_emplace(path, std::move(fresh));
      table = it->second.get();
      if (table == nullptr) return {};
    }
  }
  const Symbol* sym = table->find(vaddr);
  return sym != nullptr ? demangle(sym->name) : std::string();
}

void forget(const std::string& path) {
  LockGuard g(lock);
  ++generation;
  if (tables == nullptr) return;
  auto it = tables->find(path);
  if (it == tables->end()) return;
  // Leaked, mapping included: function_at() reads a table after dropping the lock, so another
  // thread may be in the middle of a lookup in it. A process that loads and unloads the same
  // library over and over keeps one copy per unload whose frames were symbolized.
  (void)it->second.release();
  tables->erase(it);
}

bool cached_for_testing(const std::string& path) {
  LockGuard g(lock);
  return tables != nullptr && tables->count(path) != 0;
}

void reset_after_fork() {
  // Held at the fork: another thread was changing the tables. Leak them, do not read them.
  if (lock.reset_after_fork()) tables = nullptr;
}

}  // namespace loopsan::elf_symbols
