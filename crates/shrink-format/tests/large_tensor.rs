//! A compressed tensor the size of the papers' big layers: more than 2^24 elements (an
//! f32 no longer counts them exactly) in rows of 25 088 — VGG-16's fc6 width, beyond
//! what 16 bits of column reach when multiplied out — at VGG-16's 4% density with
//! 5-bit relative indices, so that long gaps need fillers. It must round-trip exactly,
//! and the size report must account for every byte.

use shrink_format::{read, write, CompressedTensor, NamedTensor, ShrkModel, TensorData};

#[test]
fn tensor_over_2_pow_24_round_trips_with_fillers() {
    let (rows, cols) = (700u32, 25_088u32);
    let numel = rows as u64 * cols as u64;
    assert!(numel > 1 << 24);
    // About 4% kept, in irregular gaps (xorshift), some longer than 2^5 - 1.
    let mut s = 0x1234_5678_9ABC_DEF1u64;
    let mut positions = Vec::new();
    let mut p = 0u64;
    loop {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        p += 1 + s % 49;
        if p >= numel {
            break;
        }
        positions.push(p as u32);
    }
    let clusters: Vec<u16> = positions.iter().map(|&q| (q % 29) as u16).collect();
    let last = *positions.last().unwrap();
    assert!(last as u64 > 1 << 24, "a position past 2^24: {last}");
    let model = ShrkModel {
        spec_toml: String::new(),
        meta: vec![],
        tensors: vec![NamedTensor {
            name: "fc6.weight".into(),
            data: TensorData::Compressed(CompressedTensor {
                shape: vec![rows, cols],
                bits: 5,
                index_bits: 5,
                codebook: (0..32).map(|i| i as f32 / 31.0 - 0.5).collect(),
                positions: positions.clone(),
                clusters: clusters.clone(),
            }),
        }],
    };
    let (bytes, size) = write(&model).unwrap();
    assert_eq!(size.total_bytes, bytes.len() as u64);
    let t = &size.tensors[0];
    assert_eq!(size.header_bytes + t.bytes, bytes.len() as u64);
    assert_eq!(t.numel, numel);
    assert_eq!(t.kept, positions.len() as u64);
    assert!(t.fillers > 0, "gaps over 31 need fillers");
    let back = read(&bytes).unwrap();
    assert!(back.bit_eq(&model));
    match &back.tensors[0].data {
        TensorData::Compressed(c) => {
            assert_eq!(c.positions, positions);
            assert_eq!(c.clusters, clusters);
        }
        _ => panic!("not compressed"),
    }
}
