//! Arbitrary bytes into `read` and `inspect`: they must return, never panic, hang or
//! allocate wildly. Each input is tried twice: as is (mostly stopped by the magic and
//! the checksums) and with every checksum its framing points at recomputed, so the
//! mutations reach the structural checks behind them. Anything `read` accepts must be a
//! valid model that `inspect` also accepts and that round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shrink_format::{inspect, read, write};

#[path = "../../crates/shrink-format/tests/common/mod.rs"]
mod common;

fn check(bytes: &[u8]) {
    let sizes = inspect(bytes);
    if let Ok(model) = read(bytes) {
        let sizes = sizes.expect("read accepted a file inspect rejects");
        assert_eq!(sizes.total_bytes, bytes.len() as u64);
        let tensor_bytes: u64 = sizes.tensors.iter().map(|t| t.bytes).sum();
        assert_eq!(sizes.header_bytes + tensor_bytes, sizes.total_bytes);
        model.validate().expect("read returned an invalid model");
        let (again, _) = write(&model).expect("a model read back must be writable");
        assert!(read(&again).unwrap().bit_eq(&model));
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut fixed = data.to_vec();
    common::fix_checksums(&mut fixed);
    if fixed != data {
        check(&fixed);
    }
});
