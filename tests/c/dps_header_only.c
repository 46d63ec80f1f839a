/* The DPS header on its own (tests/capi_dps_header.rs compiles this as C11 and C++). */
#include <net/azure_iot_hub_dps.h>

static void handler(enum azure_iot_hub_dps_reg_status status)
{
	(void)status;
}

int dps_header_only(void);
int dps_header_only(void)
{
	struct azure_iot_hub_dps_config cfg = {handler, {0, 0}, {0, 0}};
	return azure_iot_hub_dps_init(&cfg) + (int)AZURE_IOT_HUB_DPS_REG_STATUS_FAILED;
}
