/*
 * Older symbol versions for the release binary, so that one build runs on glibc 2.34 and GCC 11's
 * libstdc++ (RHEL/Rocky 9, Ubuntu 22.04) although it is linked on Debian 12 (glibc 2.36, GCC 12).
 *
 * The static Swift runtime (Foundation, its ICU) references these three functions at the newest
 * version the build machine has: hypot and hypotf at GLIBC_2.35 (glibc dropped the old SVID
 * error-handling wrapper; the results are the same, only matherr-era overflow handling differs),
 * condition_variable::wait at GLIBCXX_3.4.30 (GCC 12 re-versioned it over how it treats thread
 * cancellation; both wait with pthread_cond_wait, and nothing here cancels threads). scripts/release
 * links with `--wrap=NAME`, which sends every
 * reference to __wrap_NAME; these forward to the older version, which every newer glibc and
 * libstdc++ still exports. scripts/release also defines SD_RELEASE_WRAPPERS: other builds link the
 * Swift runtime dynamically, do not link libstdc++ themselves, and could not resolve the reference.
 */
#if defined(SD_RELEASE_WRAPPERS) && defined(__linux__) && defined(__x86_64__)

extern double sd_hypot_2_2_5(double, double);
extern float sd_hypotf_2_2_5(float, float);
extern void sd_condition_variable_wait_3_4_11(void *self, void *lock);
__asm__(".symver sd_hypot_2_2_5,hypot@GLIBC_2.2.5");
__asm__(".symver sd_hypotf_2_2_5,hypotf@GLIBC_2.2.5");
__asm__(".symver sd_condition_variable_wait_3_4_11,_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE@GLIBCXX_3.4.11");

double __wrap_hypot(double x, double y) { return sd_hypot_2_2_5(x, y); }
float __wrap_hypotf(float x, float y) { return sd_hypotf_2_2_5(x, y); }

/* std::condition_variable::wait(std::unique_lock<std::mutex>&): `this`, then the lock's address. */
void __wrap__ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE(void *self, void *lock) {
    sd_condition_variable_wait_3_4_11(self, lock);
}

#endif
