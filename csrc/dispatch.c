/*
 * dispatch.c: choose the kernel table once, at run time.
 *
 * x86-64: AVX2+FMA and AVX-512F need both the CPUID feature bits and the
 * operating system's consent to save the wider registers (OSXSAVE, then
 * XCR0 via XGETBV: bits 1-2 for YMM, 5-7 for the AVX-512 state).  aarch64:
 * NEON (Advanced SIMD) is part of the base architecture.  The binary is
 * built for the baseline ISA; kernels carry target attributes instead.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rv_kernels.h"

#ifdef RV_HAVE_X86
#include <cpuid.h>
#endif

static const char *const backend_names[RV_BACKEND_COUNT] = {
	[RV_BACKEND_SCALAR] = "scalar",
	[RV_BACKEND_AVX2] = "avx2",
	[RV_BACKEND_AVX512] = "avx512",
	[RV_BACKEND_NEON] = "neon",
};

static _Atomic(const rv_kernels *) active;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static unsigned supported_mask;

#ifdef RV_HAVE_X86
static uint64_t
read_xcr0(void)
{
	uint32_t	eax, edx;

	__asm__ volatile ("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
	return ((uint64_t) edx << 32) | eax;
}

static unsigned
detect_x86(void)
{
	unsigned	mask = 0;
	unsigned	eax, ebx, ecx, edx;
	int			has_fma, has_osxsave;
	uint64_t	xcr0;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return 0;
	has_fma = (ecx >> 12) & 1;
	has_osxsave = (ecx >> 27) & 1;
	if (!has_osxsave || !((ecx >> 28) & 1))	/* OSXSAVE and AVX */
		return 0;
	xcr0 = read_xcr0();
	if ((xcr0 & 0x6) != 0x6)	/* XMM and YMM state */
		return 0;
	if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
		return 0;
	if (((ebx >> 5) & 1) && has_fma)	/* AVX2 */
		mask |= 1u << RV_BACKEND_AVX2;
	if (((ebx >> 16) & 1) && (xcr0 & 0xe0) == 0xe0) /* AVX-512F, opmask+ZMM */
		mask |= 1u << RV_BACKEND_AVX512;
	return mask;
}
#endif

static const rv_kernels *
table_for(rv_backend b)
{
	switch (b)
	{
		case RV_BACKEND_SCALAR:
			return &rv_kernels_scalar;
#ifdef RV_HAVE_X86
		case RV_BACKEND_AVX2:
			return &rv_kernels_avx2;
		case RV_BACKEND_AVX512:
			return &rv_kernels_avx512;
#endif
#ifdef RV_HAVE_NEON
		case RV_BACKEND_NEON:
			return &rv_kernels_neon;
#endif
		default:
			return NULL;
	}
}

static rv_backend
best_of(unsigned mask)
{
	rv_backend	best = RV_BACKEND_SCALAR;

	/* enum order is narrowest first on each architecture */
	for (int b = 0; b < RV_BACKEND_COUNT; b++)
		if (mask & (1u << b))
			best = (rv_backend) b;
	return best;
}

/*
 * Runs once: detect the CPU, then honour RUVECTOR_SIMD if it names a
 * supported backend (anything else falls back to the best one, since
 * initialisation has no way to report an error).
 */
static void
init_dispatch(void)
{
	const char *env = getenv("RUVECTOR_SIMD");
	rv_backend	b = RV_BACKEND_AUTO;

	supported_mask = 1u << RV_BACKEND_SCALAR;
#ifdef RV_HAVE_X86
	supported_mask |= detect_x86();
#ifdef RV_EMULATE_AVX512
	/* test builds only: the AVX-512 table runs on emulated intrinsics */
	supported_mask |= 1u << RV_BACKEND_AVX512;
#endif
#endif
#ifdef RV_HAVE_NEON
	supported_mask |= 1u << RV_BACKEND_NEON;
#endif
	if (env == NULL || rv_backend_from_name(env, &b) != RV_OK ||
		b == RV_BACKEND_AUTO || !(supported_mask & (1u << b)))
		b = best_of(supported_mask);
	atomic_store(&active, table_for(b));
}

static inline void
ensure_init(void)
{
	pthread_once(&init_once, init_dispatch);
}

const rv_kernels *
rv_active_kernels(void)
{
	const rv_kernels *k = atomic_load_explicit(&active, memory_order_acquire);

	if (k == NULL)
	{
		ensure_init();
		k = atomic_load(&active);
	}
	return k;
}

unsigned
rv_supported_backends(void)
{
	ensure_init();
	return supported_mask;
}

rv_backend
rv_best_backend(void)
{
	ensure_init();
	return best_of(supported_mask);
}

rv_backend
rv_simd_backend(void)
{
	return rv_active_kernels()->backend;
}

const char *
rv_backend_name(rv_backend backend)
{
	if ((int) backend < 0 || backend >= RV_BACKEND_COUNT)
		return NULL;
	return backend_names[backend];
}

rv_status
rv_backend_from_name(const char *name, rv_backend *out)
{
	char		buf[16];
	size_t		len;

	if (name == NULL || out == NULL)
		return RV_ERR_NULL_ARG;
	len = strlen(name);
	if (len >= sizeof buf)
		return RV_ERR_UNKNOWN_BACKEND;
	for (size_t i = 0; i <= len; i++)
		buf[i] = (char) tolower((unsigned char) name[i]);
	if (strcmp(buf, "auto") == 0)
	{
		*out = RV_BACKEND_AUTO;
		return RV_OK;
	}
	for (int b = 0; b < RV_BACKEND_COUNT; b++)
		if (strcmp(buf, backend_names[b]) == 0)
		{
			*out = (rv_backend) b;
			return RV_OK;
		}
	return RV_ERR_UNKNOWN_BACKEND;
}

rv_status
rv_set_backend(rv_backend backend)
{
	ensure_init();
	if (backend == RV_BACKEND_AUTO)
		backend = best_of(supported_mask);
	if ((int) backend < 0 || backend >= RV_BACKEND_COUNT)
		return RV_ERR_UNKNOWN_BACKEND;
	if (!(supported_mask & (1u << backend)))
		return RV_ERR_UNSUPPORTED_BACKEND;
	atomic_store_explicit(&active, table_for(backend), memory_order_release);
	return RV_OK;
}

void
rv_exp_f32(const float *x, size_t n, float *out)
{
	if (x == NULL || out == NULL)
		return;
	rv_active_kernels()->exp(x, n, out);
}
