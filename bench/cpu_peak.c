// The CPU's f32 arithmetic peak, to put lavapipe's GEMM rates in proportion (README, "The CPU"):
// every core runs 12 independent chains of the widest vector fused multiply-adds the compiler targets
// (512-bit with AVX-512, else 256-bit AVX2) or, as lavapipe's code has them, a multiply and an add
// (llvmpipe lowers ffma), registers only, no memory traffic.
//   gcc -O2 -march=native -ffp-contract=off -pthread bench/cpu_peak.c -o /tmp/cpu_peak && /tmp/cpu_peak
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

#ifdef __AVX512F__
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define VMUL _mm512_mul_ps
#define VADD _mm512_add_ps
static float hsum(vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define VFMA _mm256_fmadd_ps
#define VMUL _mm256_mul_ps
#define VADD _mm256_add_ps
static float hsum(vec v) { float f[8]; _mm256_storeu_ps(f, v); return f[0] + f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7]; }
#else
#error "needs AVX-512 or AVX2 with FMA: compile with -march=native on such a CPU"
#endif

#define CHAINS(OP)                                                                                \
  a0 = OP(a0); a1 = OP(a1); a2 = OP(a2); a3 = OP(a3); a4 = OP(a4); a5 = OP(a5);                    \
  a6 = OP(a6); a7 = OP(a7); a8 = OP(a8); a9 = OP(a9); a10 = OP(a10); a11 = OP(a11);
#define FMA(x) VFMA(x, b, c)
#define MULADD(x) VADD(VMUL(x, b), c)
#define BODY(OP)                                                                                  \
  vec b = SET1(0.9999999f), c = SET1(1e-7f);                                                      \
  vec a0 = SET1(1), a1 = SET1(2), a2 = SET1(3), a3 = SET1(4), a4 = SET1(5), a5 = SET1(6);          \
  vec a6 = SET1(7), a7 = SET1(8), a8 = SET1(9), a9 = SET1(10), a10 = SET1(11), a11 = SET1(12);     \
  for (long i = 0; i < STEPS; i++) { CHAINS(OP) }                                                 \
  vec s = VADD(VADD(VADD(a0, a1), VADD(a2, a3)), VADD(VADD(a4, a5), VADD(a6, a7)));               \
  s = VADD(s, VADD(VADD(a8, a9), VADD(a10, a11)));                                                 \
  sink[(long)arg % MAX_THREADS] = hsum(s);                                                         \
  return NULL;

static void *run_fma(void *arg) { BODY(FMA) }
static void *run_muladd(void *arg) { BODY(MULADD) }

static double gflops(void *(*fn)(void *), int threads) {
  pthread_t t[MAX_THREADS];
  double t0 = now();
  for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, fn, (void *)i);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  return threads * (double)STEPS * 12 * LANES * 2 / (now() - t0) / 1e9;
}

int main(void) {
  int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (cores > MAX_THREADS) cores = MAX_THREADS;
  printf("%d-bit vectors\n", LANES * 32);
  printf("fused multiply-add:  1 core %.1f GFLOP/s, %d cores %.1f GFLOP/s\n", gflops(run_fma, 1), cores, gflops(run_fma, cores));
  printf("multiply, then add:  1 core %.1f GFLOP/s, %d cores %.1f GFLOP/s\n", gflops(run_muladd, 1), cores, gflops(run_muladd, cores));
  return 0;
}
