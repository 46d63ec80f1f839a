#![no_main]
//! cargo fuzz run mqtt_client (corpus: fuzz/corpus/mqtt_client/)

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    azure_iot_hub_fuzz::targets::mqtt_client(data);
});
