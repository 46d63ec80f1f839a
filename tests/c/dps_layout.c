/* Sizes, offsets and enum values of include/net/azure_iot_hub_dps.h, asserted against the
 * nRF Connect SDK v2.9.0 numbers (nrf-api.md section 2.3) and printed as "name value" lines for
 * tests/capi_dps_layout.rs (64-bit and -m32). */
#include <net/azure_iot_hub_dps.h>

#include <stdalign.h>
#include <stdio.h>

#if UINTPTR_MAX == 0xffffffffu
#define W(v32, v64) (v32)
#else
#define W(v32, v64) (v64)
#endif

#define SIZE(T, v32, v64)                                                                          \
	_Static_assert(sizeof(T) == W(v32, v64), "sizeof " #T);                                    \
	printf("sizeof(%s) %zu\n", #T, sizeof(T));
#define OFF(T, f, v32, v64)                                                                        \
	_Static_assert(offsetof(T, f) == W(v32, v64), "offsetof " #T "." #f);                      \
	printf("offsetof(%s, %s) %zu\n", #T, #f, offsetof(T, f));
#define VAL(e, v)                                                                                  \
	_Static_assert((e) == (v), #e);                                                            \
	printf("%s %d\n", #e, (int)(e));

int main(void)
{
	SIZE(struct azure_iot_hub_dps_config, 20, 40);
	printf("alignof(struct azure_iot_hub_dps_config) %zu\n",
	       (size_t)alignof(struct azure_iot_hub_dps_config));
	OFF(struct azure_iot_hub_dps_config, handler, 0, 0);
	OFF(struct azure_iot_hub_dps_config, id_scope, 4, 8);
	OFF(struct azure_iot_hub_dps_config, reg_id, 12, 24);
	SIZE(enum azure_iot_hub_dps_reg_status, 4, 4);
	SIZE(azure_iot_hub_dps_handler_t, 4, 8);
	VAL(AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED, 0);
	VAL(AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING, 1);
	VAL(AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED, 2);
	VAL(AZURE_IOT_HUB_DPS_REG_STATUS_FAILED, 3);
	return 0;
}
