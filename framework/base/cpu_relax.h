// CpuRelax(): a spin-wait hint (x86 PAUSE), used by bounded spins before parking.
#ifndef FRAMEWORK_BASE_CPU_RELAX_H_
#define FRAMEWORK_BASE_CPU_RELAX_H_

namespace troupe {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Size that keeps independently written atomics on separate cache lines.
inline constexpr int kCacheLineSize = 64;

}  // namespace troupe

#endif  // FRAMEWORK_BASE_CPU_RELAX_H_
