#![no_main]
//! cargo fuzz run hub_topics (corpus: fuzz/corpus/hub_topics/)

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    azure_iot_hub_fuzz::targets::hub_topics(data);
});
