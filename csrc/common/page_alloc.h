// An allocator for big working buffers (hash tables, pools, heaps that live for one call):
// blocks of 1 MiB or more are mapped straight from the kernel and unmapped when freed, smaller
// ones come from the C++ heap as usual.
//
// Why: glibc serves a large block from its heap once a block of that size has been freed (its
// mmap threshold rises, up to 32 MiB), and a heap that grew rarely shrinks back. A trainer
// whose vectors double several times then keeps every outgrown copy in the process's resident
// memory after freeing it. Mapped blocks go back at once, so resident memory follows what is
// live. Only for a few big buffers per call: each block costs a system call and fresh pages.
// Blocks of 8 MiB or more also get the transparent-huge-page hint (MADV_HUGEPAGE), so the kernel
// can back them with 2 MiB pages: one page fault instead of 512 (a fault costs microseconds on a
// VM, and a 10 MB BPE piece touches ~150 MB of fresh working memory).
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#define FE_PAGE_ALLOC_MMAP 1
#endif

namespace fe {

template <class T, size_t MapBytes = size_t{1} << 20>
struct PageAllocator {
  using value_type = T;
  static constexpr size_t kMapBytes = MapBytes;
  static constexpr size_t kHugeBytes = size_t{8} << 20;
  template <class U>
  struct rebind {
    using other = PageAllocator<U, MapBytes>;
  };

  PageAllocator() = default;
  template <class U>
  PageAllocator(const PageAllocator<U, MapBytes>&) {}

  T* allocate(size_t n) {
#ifdef FE_PAGE_ALLOC_MMAP
    if (n >= kMapBytes / sizeof(T)) {
      if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
      void* p = mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
      if (n * sizeof(T) >= kHugeBytes) madvise(p, n * sizeof(T), MADV_HUGEPAGE);  // a hint; errors are harmless
#endif
      return static_cast<T*>(p);
    }
#endif
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, size_t n) {
#ifdef FE_PAGE_ALLOC_MMAP
    if (n >= kMapBytes / sizeof(T)) {
      munmap(p, n * sizeof(T));
      return;
    }
#endif
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const PageAllocator<U, MapBytes>&) const {
    return true;
  }
  template <class U>
  bool operator!=(const PageAllocator<U, MapBytes>&) const {
    return false;
  }
};

// A vector whose big buffers are mapped pages (see above).
template <class T>
using big_vector = std::vector<T, PageAllocator<T>>;

// A vector that maps only buffers of 8 MiB or more, always with the huge-page hint: for buffers
// made afresh on every call (an encoder's working arrays), where glibc's reuse of freed heap
// memory is worth keeping for the smaller sizes and 2 MiB pages save most page faults of the big
// ones.
template <class T>
using huge_vector = std::vector<T, PageAllocator<T, (size_t{8} << 20)>>;

}  // namespace fe
