//! The protocol's message decoder (both directions): never panics, refuses what is
//! over the frame limit, and what it accepts encodes and decodes back to itself.
#![no_main]
use ksocket_proto::messages::{AgentMessage, ControllerMessage, MAX_FRAME, decode, encode};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode::<AgentMessage>(data) {
        assert!(data.len() <= MAX_FRAME);
        assert_eq!(decode::<AgentMessage>(&encode(&m)).ok(), Some(m));
    }
    if let Ok(m) = decode::<ControllerMessage>(data) {
        assert_eq!(decode::<ControllerMessage>(&encode(&m)).ok(), Some(m));
    }
});
