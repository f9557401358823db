//! Malformed input: every truncation, every bit flip, corruption hidden behind
//! recomputed checksums, absurd counts, and invalid models given to the writer. All must
//! give a typed error, never a panic or a huge allocation.

mod common;

use common::{fix_checksums, section_payloads, small_model, Rng};
use shrink_format::{
    inspect, read, write, CompressedTensor, FormatError, NamedTensor, ShrkModel, TensorData,
    VERSION,
};

fn small_file() -> Vec<u8> {
    write(&small_model()).unwrap().0
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = small_file();
    for len in 0..bytes.len() {
        assert!(
            read(&bytes[..len]).is_err(),
            "read accepted {len} of {} bytes",
            bytes.len()
        );
        assert!(
            inspect(&bytes[..len]).is_err(),
            "inspect accepted {len} bytes"
        );
    }
}

#[test]
fn every_single_bit_flip_is_an_error() {
    let bytes = small_file();
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert!(read(&flipped).is_err(), "read accepted a flip of bit {bit}");
        assert!(
            inspect(&flipped).is_err(),
            "inspect accepted a flip of bit {bit}"
        );
    }
}

#[test]
fn random_bit_flips_in_a_lenet_file_are_errors() {
    let bytes = write(&common::lenet_300_100(3)).unwrap().0;
    let mut rng = Rng::new(11);
    for _ in 0..500 {
        let bit = rng.below(bytes.len() as u64 * 8) as usize;
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert!(read(&flipped).is_err(), "read accepted a flip of bit {bit}");
    }
}

/// What a corrupt-but-checksummed file may do: fail, or decode to a valid model that
/// round-trips.
fn check_survivor(bytes: &[u8]) {
    let _ = inspect(bytes);
    if let Ok(model) = read(bytes) {
        model.validate().expect("read returned an invalid model");
        let again = write(&model).expect("a model read back must be writable").0;
        assert!(read(&again).unwrap().bit_eq(&model));
        assert!(inspect(bytes).is_ok(), "read accepted what inspect rejects");
    }
}

#[test]
fn bit_flips_behind_recomputed_checksums_never_panic() {
    let bytes = small_file();
    for (start, end) in section_payloads(&bytes) {
        for bit in start * 8..end * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            fix_checksums(&mut flipped);
            check_survivor(&flipped);
        }
    }
}

#[test]
fn random_bytes_behind_recomputed_checksums_never_panic() {
    let bytes = small_file();
    let payloads = section_payloads(&bytes);
    let mut rng = Rng::new(5);
    for _ in 0..5000 {
        let mut damaged = bytes.clone();
        for _ in 0..1 + rng.below(4) {
            let (start, end) = payloads[rng.below(payloads.len() as u64) as usize];
            if end > start {
                damaged[start + rng.below((end - start) as u64) as usize] = rng.next_u64() as u8;
            }
        }
        fix_checksums(&mut damaged);
        check_survivor(&damaged);
    }
}

/// The byte offset of `needle` inside section `index` of a valid file.
fn find_in_section(bytes: &[u8], index: usize, needle: &[u8]) -> usize {
    let (start, end) = section_payloads(bytes)[index];
    start
        + bytes[start..end]
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
}

#[test]
fn absurd_counts_fail_before_allocating() {
    let model = ShrkModel {
        tensors: vec![
            NamedTensor {
                name: "d".into(),
                data: TensorData::Dense {
                    shape: vec![2, 3],
                    values: vec![1.0; 6],
                },
            },
            NamedTensor {
                name: "c".into(),
                data: TensorData::Compressed(CompressedTensor {
                    shape: vec![1000],
                    bits: 2,
                    index_bits: 4,
                    codebook: vec![1.0, 2.0],
                    positions: vec![5, 100, 999],
                    clusters: vec![0, 1, 1],
                }),
            },
        ],
        ..ShrkModel::default()
    };
    let bytes = write(&model).unwrap().0;
    let patch = |at: usize, value: &[u8]| {
        let mut b = bytes.clone();
        b[at..at + value.len()].copy_from_slice(value);
        fix_checksums(&mut b);
        b
    };
    // Dense shape [65535, 65535]: 16 GiB claimed, 24 bytes present.
    let dims = find_in_section(&bytes, 2, &[2, 0, 0, 0, 3, 0, 0, 0]);
    let big = patch(dims, &[0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0, 0]);
    assert!(matches!(read(&big), Err(FormatError::Truncated { .. })));
    // Compressed tensor claiming u32::MAX entries (more than numel).
    let counts = find_in_section(&bytes, 3, &[3, 0, 0, 0]);
    let entries = patch(counts + 4, &[0xFF; 4]);
    assert!(matches!(read(&entries), Err(FormatError::Corrupt { .. })));
    // Shape of 2^32 elements claimed for the compressed tensor.
    let shape = find_in_section(&bytes, 3, &1000u32.to_le_bytes());
    let huge = patch(shape - 1, &[2, 0, 0, 1, 0, 0, 0, 1, 0]);
    assert!(read(&huge).is_err());
    // u32::MAX sections, u32::MAX meta entries.
    assert!(matches!(
        read(&patch(8, &[0xFF; 4])),
        Err(FormatError::Truncated { .. })
    ));
    let meta = section_payloads(&bytes)[1].0;
    assert!(matches!(
        read(&patch(meta, &[0xFF; 4])),
        Err(FormatError::Truncated { .. })
    ));
}

#[test]
fn errors_say_what_and_where() {
    let bytes = small_file();
    assert_eq!(
        read(b"PK\x03\x04rest").unwrap_err(),
        FormatError::BadMagic {
            found: b"PK\x03\x04".to_vec()
        }
    );
    let mut future = bytes.clone();
    future[4] = 3;
    assert_eq!(
        read(&future).unwrap_err(),
        FormatError::UnsupportedVersion {
            found: 3,
            supported: VERSION
        }
    );
    let (start, _) = section_payloads(&bytes)[2];
    let mut damaged = bytes.clone();
    damaged[start + 3] ^= 0x10;
    match read(&damaged).unwrap_err() {
        FormatError::ChecksumMismatch { section, .. } => {
            assert!(section.contains("tensor section #0"), "{section}")
        }
        other => panic!("{other}"),
    }
    match read(&bytes[..bytes.len() - 1]).unwrap_err() {
        FormatError::Truncated {
            needed, available, ..
        } => assert!(needed > available),
        other => panic!("{other}"),
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    let err = read(&trailing).unwrap_err();
    assert!(
        matches!(err, FormatError::Corrupt { offset, .. } if offset == bytes.len() as u64),
        "{err}"
    );
    // A corrupt field inside a tensor names the tensor.
    let kind = find_in_section(&bytes, 2, b"conv.weight") + 11;
    let mut bad_kind = bytes.clone();
    bad_kind[kind] = 9;
    fix_checksums(&mut bad_kind);
    let err = read(&bad_kind).unwrap_err().to_string();
    assert!(
        err.contains("tensor 'conv.weight'") && err.contains("unknown tensor kind 9"),
        "{err}"
    );
}

fn rejects(model: ShrkModel, expected: &str) {
    match write(&model) {
        Err(FormatError::InvalidInput(msg)) => {
            assert!(msg.contains(expected), "{msg:?} lacks {expected:?}")
        }
        other => panic!("expected InvalidInput containing {expected:?}, got {other:?}"),
    }
}

fn with_tensor(c: CompressedTensor) -> ShrkModel {
    ShrkModel {
        tensors: vec![NamedTensor {
            name: "layers.0.weight".into(),
            data: TensorData::Compressed(c),
        }],
        ..ShrkModel::default()
    }
}

#[test]
fn writer_rejects_invalid_models() {
    let good = CompressedTensor {
        shape: vec![4, 4],
        bits: 2,
        index_bits: 5,
        codebook: vec![0.1, 0.2],
        positions: vec![1, 5, 9],
        clusters: vec![0, 1, 0],
    };
    assert!(write(&with_tensor(good.clone())).is_ok());
    let case = |edit: fn(&mut CompressedTensor), expected: &str| {
        let mut c = good.clone();
        edit(&mut c);
        rejects(with_tensor(c), expected);
    };
    case(
        |c| c.positions = vec![1, 9, 5],
        "not strictly increasing at index 2",
    );
    case(|c| c.positions = vec![1, 1, 5], "not strictly increasing");
    case(|c| c.positions = vec![1, 5, 16], "outside the tensor");
    case(|c| c.clusters = vec![0, 2, 0], "outside the codebook");
    case(|c| c.clusters = vec![0, 1], "2 clusters for 3 positions");
    case(|c| c.bits = 0, "bits = 0");
    case(|c| c.bits = 9, "bits = 9");
    case(|c| c.index_bits = 0, "index_bits = 0");
    case(|c| c.index_bits = 17, "index_bits = 17");
    case(|c| c.codebook = vec![0.0; 5], "codebook has 5 entries");
    case(|c| c.shape = vec![65536, 65536], "more than u32::MAX");
    case(|c| c.shape = vec![1; 256], "256 dimensions");
    rejects(
        ShrkModel {
            tensors: vec![NamedTensor {
                name: "b".into(),
                data: TensorData::Dense {
                    shape: vec![3],
                    values: vec![0.0; 2],
                },
            }],
            ..ShrkModel::default()
        },
        "2 values for shape [3]",
    );
    let mut twice = with_tensor(good.clone());
    twice.tensors.push(twice.tensors[0].clone());
    rejects(twice, "tensor 'layers.0.weight': duplicate tensor name");
}
