/* The baseline of the footprint: the same program with every library function a stub, so the
 * difference in size is what the library adds. */
#include <stddef.h>
#include <stdint.h>
struct azure_iot_hub_evt;
int azure_iot_hub_init(void *h) { (void)h; return 0; }
int azure_iot_hub_connect(const void *c) { (void)c; return 0; }
int azure_iot_hub_disconnect(void) { return 0; }
int azure_iot_hub_send(const void *m) { (void)m; return 0; }
int azure_iot_hub_method_respond(void *r) { (void)r; return 0; }
int iot_hub_state_get(void) { return 0; }
int azure_iot_hub_dps_init(void *c) { (void)c; return 0; }
int azure_iot_hub_dps_start(void) { return 0; }
int azure_iot_hub_dps_hostname_get(void *b) { (void)b; return 0; }
int azure_iot_hub_dps_device_id_get(void *b) { (void)b; return 0; }
int azure_iot_hub_dps_hostname_delete(void) { return 0; }
int azure_iot_hub_dps_device_id_delete(void) { return 0; }
int azure_iot_hub_dps_reset(void) { return 0; }
int azure_iot_hub_dps_payload_set(const char *j, size_t l) { (void)j; (void)l; return 0; }
void azhub_rs_settings_set(void *i, const char *k, const void *v, size_t l) { (void)i; (void)k; (void)v; (void)l; }
