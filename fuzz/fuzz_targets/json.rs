#![no_main]
//! cargo fuzz run json (corpus: fuzz/corpus/json/)

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    azure_iot_hub_fuzz::targets::json(data);
});
