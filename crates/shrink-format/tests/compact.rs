//! Format version 2 (`write_compact`): the same model in fewer bytes, read back exactly;
//! version 1 files still read; hostile deflated headers fail with bounded memory.

mod common;

use common::{fix_checksums, lenet_300_100, section_payloads, small_model, Rng};
use shrink_format::half::round_to_f16;
use shrink_format::{
    file_version, inspect, read, write, write_compact, FormatError, ShrkModel, TensorData,
    MAX_INFLATED, VERSION, VERSION_1,
};

/// A model whose dense tensors and codebooks are rounded to half precision, with a
/// spec long enough to be worth deflating.
fn halved(mut model: ShrkModel) -> ShrkModel {
    for t in &mut model.tensors {
        match &mut t.data {
            TensorData::Dense { values, .. } => {
                values.iter_mut().for_each(|v| *v = round_to_f16(*v))
            }
            TensorData::Compressed(c) => c.codebook.iter_mut().for_each(|v| *v = round_to_f16(*v)),
        }
    }
    model.spec_toml = "[[layers]]\ntype = \"linear\"\nout = 300\nbias = true\n".repeat(12);
    model
}

fn sizes_add_up(bytes: &[u8]) {
    let r = inspect(bytes).unwrap();
    let tensors: u64 = r.tensors.iter().map(|t| t.bytes).sum();
    assert_eq!(r.header_bytes + tensors, r.total_bytes);
    assert_eq!(r.total_bytes, bytes.len() as u64);
}

#[test]
fn compact_round_trips_exactly_and_is_smaller() {
    for model in [
        halved(lenet_300_100(3)),
        halved(small_model()),
        small_model(),
    ] {
        let (v1, r1) = write(&model).unwrap();
        let (v2, r2) = write_compact(&model).unwrap();
        assert_eq!(file_version(&v1), Some(VERSION_1));
        assert_eq!(file_version(&v2), Some(VERSION));
        assert!(read(&v1).unwrap().bit_eq(&model));
        assert!(
            read(&v2).unwrap().bit_eq(&model),
            "version 2 changed the model"
        );
        sizes_add_up(&v1);
        sizes_add_up(&v2);
        assert!(v2.len() <= v1.len(), "{} > {}", v2.len(), v1.len());
        assert_eq!(r1.tensors.len(), r2.tensors.len());
    }
    // Halves: the dense tensors and codebooks take 2 bytes a value, the header shrinks.
    let model = halved(lenet_300_100(3));
    let (_, r1) = write(&model).unwrap();
    let (_, r2) = write_compact(&model).unwrap();
    assert!(
        r2.header_bytes < r1.header_bytes / 2,
        "{} vs {}",
        r2.header_bytes,
        r1.header_bytes
    );
    for (a, b) in r1.tensors.iter().zip(&r2.tensors) {
        if a.compressed {
            assert_eq!(b.codebook_bytes * 2, a.codebook_bytes, "{}", a.name);
            assert_eq!(a.weight_stream_bytes, b.weight_stream_bytes);
        } else {
            assert_eq!(
                b.weight_stream_bytes * 2,
                a.weight_stream_bytes,
                "{}",
                a.name
            );
            assert_eq!(b.weight_bits_fixed, 16.0);
        }
    }
}

#[test]
fn values_that_are_not_halves_stay_float32() {
    // lenet_300_100's random biases are not halves: version 2 keeps them exact.
    let model = lenet_300_100(5);
    let (v2, r2) = write_compact(&model).unwrap();
    assert!(read(&v2).unwrap().bit_eq(&model));
    for t in r2.tensors.iter().filter(|t| !t.compressed) {
        assert_eq!(t.weight_bits_fixed, 32.0, "{}", t.name);
    }
}

fn compact_file() -> Vec<u8> {
    write_compact(&halved(small_model())).unwrap().0
}

#[test]
fn every_truncation_and_bit_flip_of_a_compact_file_is_an_error() {
    let bytes = compact_file();
    for len in 0..bytes.len() {
        assert!(read(&bytes[..len]).is_err(), "read accepted {len} bytes");
    }
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert!(read(&flipped).is_err(), "read accepted a flip of bit {bit}");
    }
    // Behind recomputed checksums: errors or a model, never a panic.
    let mut rng = Rng::new(9);
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(b.len() as u64) as usize;
            b[i] ^= 1 << rng.below(8);
        }
        fix_checksums(&mut b);
        let _ = read(&b);
        let _ = inspect(&b);
    }
}

/// The spec section of `bytes` replaced by `payload`, checksums fixed.
fn with_spec_payload(bytes: &[u8], payload: &[u8]) -> Vec<u8> {
    let (start, end) = section_payloads(bytes)[0];
    let mut out = bytes[..start].to_vec();
    out[start - 4..start].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&bytes[end..]);
    fix_checksums(&mut out);
    out
}

fn corrupt_msg(r: Result<ShrkModel, FormatError>) -> String {
    match r {
        Err(e @ FormatError::Corrupt { .. }) => e.to_string(),
        other => panic!("expected a corrupt-file error, got {other:?}"),
    }
}

#[test]
fn hostile_deflated_headers_fail_without_inflating_them() {
    let bytes = compact_file();
    assert!(read(&with_spec_payload(&bytes, b"\x00name = \"x\"\n")).is_ok());
    // A deflate bomb: 64 MiB of zeros in ~64 KB, declared honestly. Refused by the
    // declared size before inflating anything.
    let zeros = vec![0u8; 64 << 20];
    let bomb = miniz_deflate(&zeros);
    assert!(bomb.len() < 200_000);
    let mut payload = vec![1u8];
    payload.extend_from_slice(&(zeros.len() as u32).to_le_bytes());
    payload.extend_from_slice(&bomb);
    let msg = corrupt_msg(read(&with_spec_payload(&bytes, &payload)));
    assert!(msg.contains(&format!("more than {MAX_INFLATED}")), "{msg}");
    // The same bomb declared small: inflation stops at the declared size.
    let mut payload = vec![1u8];
    payload.extend_from_slice(&100u32.to_le_bytes());
    payload.extend_from_slice(&bomb);
    let msg = corrupt_msg(read(&with_spec_payload(&bytes, &payload)));
    assert!(msg.contains("deflate stream"), "{msg}");
    // Declared longer than what the stream holds.
    let text = b"name = \"tiny\"\n".repeat(20);
    let mut payload = vec![1u8];
    payload.extend_from_slice(&(text.len() as u32 + 5).to_le_bytes());
    payload.extend_from_slice(&miniz_deflate(&text));
    let msg = corrupt_msg(read(&with_spec_payload(&bytes, &payload)));
    assert!(msg.contains("inflates to"), "{msg}");
    // Not a deflate stream; an unknown encoding.
    let msg = corrupt_msg(read(&with_spec_payload(
        &bytes,
        b"\x01\x10\x00\x00\x00\xff\xff\xff",
    )));
    assert!(msg.contains("deflate stream"), "{msg}");
    let msg = corrupt_msg(read(&with_spec_payload(&bytes, b"\x07abc")));
    assert!(msg.contains("encoding 7"), "{msg}");
}

#[test]
fn version_1_files_do_not_hold_version_2_kinds() {
    // A version-2 file relabelled as version 1: its encoding bytes and half tensors are
    // not version 1's, and the reader says so rather than misreading them.
    let mut bytes = compact_file();
    bytes[4] = 1;
    fix_checksums(&mut bytes);
    assert!(read(&bytes).is_err());
}

/// Raw deflate through the same crate the format uses (a dev-only helper).
fn miniz_deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(data, 10)
}
