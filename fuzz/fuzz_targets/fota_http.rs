#![no_main]
//! cargo fuzz run fota_http (corpus: fuzz/corpus/fota_http/)

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    azure_iot_hub_fuzz::targets::fota_http(data);
});
