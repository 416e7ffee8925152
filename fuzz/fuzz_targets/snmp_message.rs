//! The SNMP decoders (v1/v2c messages, v3 messages, scoped PDUs): never panic, and a
//! decoded message's varbinds iterate to the end with values of their own types.
#![no_main]
use ksocket_core::snmp::{Message, ScopedData, ScopedPdu, V3Message, version_of};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = version_of(data);
    if let Ok(m) = Message::decode(data) {
        for (o, v) in m.pdu.varbinds {
            let _ = (o.arcs().count(), v.is_exception());
        }
    }
    if let Ok(m) = V3Message::decode(data) {
        assert!(m.auth_params_offset + m.usm.auth_params.len() <= data.len());
        assert_eq!(&data[m.auth_params_offset..m.auth_params_offset + m.usm.auth_params.len()], m.usm.auth_params);
        if let ScopedData::Plain(sp) = m.data {
            let _ = sp.pdu.varbinds.count();
        }
    }
    if let Ok(sp) = ScopedPdu::decode(data) {
        let _ = sp.pdu.varbinds.count();
    }
});
