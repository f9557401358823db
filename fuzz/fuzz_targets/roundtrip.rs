//! Builds a model from arbitrary bytes (shapes, densities, bit widths, gaps, codebooks,
//! raw f32 bit patterns) and checks that `write` → `read` is exact and the size report
//! adds up to the file size.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use shrink_format::{
    inspect, read, write, write_compact, CompressedTensor, NamedTensor, ShrkModel, TensorData,
};

fn text(u: &mut Unstructured) -> Result<String> {
    let len = u.int_in_range(0..=24)?;
    (0..len).map(|_| u.arbitrary::<char>()).collect()
}

fn tensor(u: &mut Unstructured) -> Result<TensorData> {
    let ndim = u.int_in_range(0..=3)?;
    let mut shape: Vec<u32> = (0..ndim)
        .map(|_| u.int_in_range(0..=40))
        .collect::<Result<_>>()?;
    if u.ratio(1, 8)? {
        shape = vec![u.int_in_range(0..=100_000)?];
    }
    let numel: u32 = shape.iter().product();
    if u.ratio(1, 4)? {
        let values = (0..numel.min(4096))
            .map(|_| u.arbitrary::<u32>().map(f32::from_bits))
            .collect::<Result<_>>()?;
        let shape = if numel > 4096 { vec![4096] } else { shape };
        return Ok(TensorData::Dense { shape, values });
    }
    let bits = u.int_in_range(1..=8)?;
    let index_bits = u.int_in_range(1..=16)?;
    let codebook_len = u.int_in_range(0..=1usize << bits)?;
    let codebook: Vec<f32> = (0..codebook_len)
        .map(|_| u.arbitrary::<u32>().map(f32::from_bits))
        .collect::<Result<_>>()?;
    let mut positions = Vec::new();
    let mut clusters = Vec::new();
    if codebook_len > 0 && numel > 0 {
        // Gaps from a skewed distribution, sometimes far beyond 2^index_bits.
        let mut next = u.int_in_range(0..=numel - 1)?;
        while next < numel && positions.len() < 20_000 && !u.is_empty() {
            positions.push(next);
            clusters.push(u.int_in_range(0..=codebook_len as u16 - 1)?);
            let gap: u32 = match u.int_in_range(0..=3)? {
                0 => u.int_in_range(0..=1000)?,
                _ => u.int_in_range(0..=3)?,
            };
            next = next.saturating_add(1 + gap);
        }
    }
    Ok(TensorData::Compressed(CompressedTensor {
        shape,
        bits,
        index_bits,
        codebook,
        positions,
        clusters,
    }))
}

fn model(u: &mut Unstructured) -> Result<ShrkModel> {
    let spec_toml = text(u)?;
    let meta = (0..u.int_in_range(0..=3)?)
        .map(|_| Ok((text(u)?, text(u)?)))
        .collect::<Result<_>>()?;
    let tensors = (0..u.int_in_range(0..=4)?)
        .map(|i| {
            Ok(NamedTensor {
                name: format!("t{i}"),
                data: tensor(u)?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(ShrkModel {
        spec_toml,
        meta,
        tensors,
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(model) = model(&mut Unstructured::new(data)) else {
        return;
    };
    let (bytes, report) = write(&model).expect("a valid model must be writable");
    assert!(read(&bytes).expect("written file must read").bit_eq(&model));
    assert_eq!(inspect(&bytes).unwrap(), report);
    let tensor_bytes: u64 = report.tensors.iter().map(|t| t.bytes).sum();
    assert_eq!(report.header_bytes + tensor_bytes, bytes.len() as u64);
    // Format version 2: lossless as well, and its sizes add up the same way.
    let (bytes, report) = write_compact(&model).expect("a valid model must be writable");
    assert!(read(&bytes).expect("written file must read").bit_eq(&model));
    assert_eq!(inspect(&bytes).unwrap(), report);
    let tensor_bytes: u64 = report.tensors.iter().map(|t| t.bytes).sum();
    assert_eq!(report.header_bytes + tensor_bytes, bytes.len() as u64);
});
