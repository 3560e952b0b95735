// The CPU's f32 arithmetic peak, to put lavapipe's GEMM rates in proportion (README, "The CPU"):
// every core runs 12 independent chains of 512-bit fused multiply-adds (or, as lavapipe's code has
// them, a multiply and an add: llvmpipe lowers ffma), registers only, no memory traffic.
//   gcc -O2 -mavx512f -mfma -ffp-contract=off -pthread bench/cpu_peak.c -o /tmp/cpu_peak && /tmp/cpu_peak
// Prints GFLOP/s for 1 and for all online cores (2 flops per lane per multiply-add).
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define STEPS 50000000L
#define MAX_THREADS 256

volatile float sink[MAX_THREADS]; // volatile: the compiler must not drop the chains as dead code

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

#define CHAINS(OP)                                                                                \
  a0 = OP(a0); a1 = OP(a1); a2 = OP(a2); a3 = OP(a3); a4 = OP(a4); a5 = OP(a5);                    \
  a6 = OP(a6); a7 = OP(a7); a8 = OP(a8); a9 = OP(a9); a10 = OP(a10); a11 = OP(a11);
#define FMA(x) _mm512_fmadd_ps(x, b, c)
#define MULADD(x) _mm512_add_ps(_mm512_mul_ps(x, b), c)
#define BODY(OP)                                                                                  \
  __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);                               \
  __m512 a0 = _mm512_set1_ps(1), a1 = _mm512_set1_ps(2), a2 = _mm512_set1_ps(3), a3 = _mm512_set1_ps(4); \
  __m512 a4 = _mm512_set1_ps(5), a5 = _mm512_set1_ps(6), a6 = _mm512_set1_ps(7), a7 = _mm512_set1_ps(8); \
  __m512 a8 = _mm512_set1_ps(9), a9 = _mm512_set1_ps(10), a10 = _mm512_set1_ps(11), a11 = _mm512_set1_ps(12); \
  for (long i = 0; i < STEPS; i++) { CHAINS(OP) }                                                 \
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),           \
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));          \
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));            \
  sink[(long)arg % MAX_THREADS] = _mm512_reduce_add_ps(s);                                         \
  return NULL;

static void *run_fma(void *arg) { BODY(FMA) }
static void *run_muladd(void *arg) { BODY(MULADD) }

static double gflops(void *(*fn)(void *), int threads) {
  pthread_t t[MAX_THREADS];
  double t0 = now();
  for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, fn, (void *)i);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  return threads * (double)STEPS * 12 * 16 * 2 / (now() - t0) / 1e9;
}

int main(void) {
  int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (cores > MAX_THREADS) cores = MAX_THREADS;
  printf("fused multiply-add:  1 core %.1f GFLOP/s, %d cores %.1f GFLOP/s\n", gflops(run_fma, 1), cores, gflops(run_fma, cores));
  printf("multiply, then add:  1 core %.1f GFLOP/s, %d cores %.1f GFLOP/s\n", gflops(run_muladd, 1), cores, gflops(run_muladd, cores));
  return 0;
}
