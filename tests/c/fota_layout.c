/* Sizes, offsets and enum values of include/net/azure_fota.h. The static asserts hold the numbers
 * of the nRF Connect SDK v2.9.0 header (nrf-api.md sections 2.1 and 2.3) for 32- and 64-bit
 * targets; the program also prints them as "name value" lines, which tests/capi_fota.rs compares
 * with the same table and with Rust's size_of/offset_of. */
#include <net/azure_fota.h>

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>

#if UINTPTR_MAX == 0xffffffffu
#define W(v32, v64) (v32)
#else
#define W(v32, v64) (v64)
#endif

#define SIZE(T, v32, v64)                                                                          \
	_Static_assert(sizeof(T) == W(v32, v64), "sizeof " #T);                                    \
	printf("sizeof(%s) %zu\n", #T, sizeof(T));
#define ALIGN(T, v32, v64)                                                                         \
	_Static_assert(alignof(T) == W(v32, v64), "alignof " #T);                                  \
	printf("alignof(%s) %zu\n", #T, (size_t)alignof(T));
#define OFF(T, f, v32, v64)                                                                        \
	_Static_assert(offsetof(T, f) == W(v32, v64), "offsetof " #T "." #f);                      \
	printf("offsetof(%s, %s) %zu\n", #T, #f, offsetof(T, f));
#define VAL(e, v)                                                                                  \
	_Static_assert((e) == (v), #e);                                                            \
	printf("%s %d\n", #e, (int)(e));

int main(void)
{
	SIZE(enum azure_fota_evt_type, 4, 4)
	SIZE(struct azure_fota_event, 12, 24)
	ALIGN(struct azure_fota_event, 4, 8)
	OFF(struct azure_fota_event, type, 0, 0)
	OFF(struct azure_fota_event, report, 4, 8)
	OFF(struct azure_fota_event, version, 8, 16)
	SIZE(azure_fota_callback_t, 4, 8)
	VAL(AZURE_FOTA_EVT_REPORT, 0)
	VAL(AZURE_FOTA_EVT_START, 1)
	VAL(AZURE_FOTA_EVT_DONE, 2)
	VAL(AZURE_FOTA_EVT_ERROR, 3)
	VAL(AZURE_FOTA_EVT_ERASE_PENDING, 4)
	VAL(AZURE_FOTA_EVT_ERASE_DONE, 5)
	/* The signatures, as the original declares them. */
	_Static_assert(__builtin_types_compatible_p(__typeof__(&azure_fota_init),
						    int (*)(azure_fota_callback_t)),
		       "azure_fota_init");
	_Static_assert(__builtin_types_compatible_p(__typeof__(&azure_fota_msg_process),
						    int (*)(const char *const, size_t)),
		       "azure_fota_msg_process");
	return 0;
}
