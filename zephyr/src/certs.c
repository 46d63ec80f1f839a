/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Run-time provisioning of the PEM files of the application's certificate folder
 * (CONFIG_MQTT_HELPER_PROVISION_CERTIFICATES). CMake turns each file that exists into an .inc
 * file and defines AZHUB_Z_<NAME> for it; see the root CMakeLists.txt.
 */

#include <errno.h>

#include <zephyr/kernel.h>

#include "azure_iot_hub_zephyr_glue.h"

#if defined(CONFIG_MQTT_HELPER_PROVISION_CERTIFICATES) && defined(CONFIG_NET_SOCKETS_SOCKOPT_TLS)

#include <zephyr/net/tls_credentials.h>

/* PEM credentials must be NUL-terminated and the terminator counts in the length. */
#if defined(AZHUB_Z_CA_CERT)
static const unsigned char ca_cert[] = {
#include AZHUB_Z_CA_CERT
	0x00};
#endif
#if defined(AZHUB_Z_CLIENT_CERT)
static const unsigned char client_cert[] = {
#include AZHUB_Z_CLIENT_CERT
	0x00};
#endif
#if defined(AZHUB_Z_PRIVATE_KEY)
static const unsigned char private_key[] = {
#include AZHUB_Z_PRIVATE_KEY
	0x00};
#endif
#if defined(AZHUB_Z_CA_CERT_2)
static const unsigned char ca_cert_2[] = {
#include AZHUB_Z_CA_CERT_2
	0x00};
#endif
#if defined(AZHUB_Z_CLIENT_CERT_2)
static const unsigned char client_cert_2[] = {
#include AZHUB_Z_CLIENT_CERT_2
	0x00};
#endif
#if defined(AZHUB_Z_PRIVATE_KEY_2)
static const unsigned char private_key_2[] = {
#include AZHUB_Z_PRIVATE_KEY_2
	0x00};
#endif

static inline int add(sec_tag_t tag, enum tls_credential_type type, const void *cred, size_t len)
{
	int err = tls_credential_add(tag, type, cred, len);

	return (err == -EEXIST) ? 0 : err;
}

static int provision(void)
{
	int err = 0;
	const sec_tag_t tag = CONFIG_MQTT_HELPER_SEC_TAG;
	const sec_tag_t tag2 = CONFIG_MQTT_HELPER_SECONDARY_SEC_TAG;

	ARG_UNUSED(tag);
	ARG_UNUSED(tag2);

#if defined(AZHUB_Z_CA_CERT)
	err = err ? err : add(tag, TLS_CREDENTIAL_CA_CERTIFICATE, ca_cert, sizeof(ca_cert));
#endif
#if defined(AZHUB_Z_PRIVATE_KEY)
	err = err ? err : add(tag, TLS_CREDENTIAL_PRIVATE_KEY, private_key, sizeof(private_key));
#endif
#if defined(AZHUB_Z_CLIENT_CERT)
	/* Zephyr files the device's own certificate under the "server certificate" type. */
	err = err ? err
		  : add(tag, TLS_CREDENTIAL_SERVER_CERTIFICATE, client_cert, sizeof(client_cert));
#endif
	if (tag2 > -1) {
#if defined(AZHUB_Z_CA_CERT_2)
		err = err ? err
			  : add(tag2, TLS_CREDENTIAL_CA_CERTIFICATE, ca_cert_2, sizeof(ca_cert_2));
#endif
#if defined(AZHUB_Z_PRIVATE_KEY_2)
		err = err ? err
			  : add(tag2, TLS_CREDENTIAL_PRIVATE_KEY, private_key_2,
				sizeof(private_key_2));
#endif
#if defined(AZHUB_Z_CLIENT_CERT_2)
		err = err ? err
			  : add(tag2, TLS_CREDENTIAL_SERVER_CERTIFICATE, client_cert_2,
				sizeof(client_cert_2));
#endif
	}
	return err;
}

/* No lock and no "done" flag: the library calls this once per boot, from its first
 * initialisation (under its own lock); and a credential added again (-EEXIST) is not an error,
 * so another call would do no harm.
 */
int azhub_z_provision_certificates(void)
{
	return provision();
}

#else

int azhub_z_provision_certificates(void)
{
	return 0;
}

#endif
