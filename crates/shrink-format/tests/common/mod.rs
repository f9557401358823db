//! Model builders and file surgery shared by the tests, the benchmark, the fuzz targets
//! and the seed-corpus example (included with `#[path]`; no test framework needed).
#![allow(dead_code)]

use shrink_format::checksum::crc32;
use shrink_format::{CompressedTensor, NamedTensor, ShrkModel, TensorData};

/// xorshift64*: small, deterministic, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A pruned, quantized tensor: each element kept with probability `keep`, clusters
/// drawn from a bell-shaped distribution over a linear codebook (as k-means on trained
/// weights gives), so Huffman coding has something to gain.
pub fn random_compressed(
    rng: &mut Rng,
    shape: Vec<u32>,
    keep: f64,
    bits: u8,
    index_bits: u8,
    codebook_len: usize,
) -> CompressedTensor {
    let numel: usize = shape.iter().map(|&d| d as usize).product();
    let positions: Vec<u32> = (0..numel as u32).filter(|_| rng.unit() < keep).collect();
    let codebook_len = if positions.is_empty() {
        codebook_len
    } else {
        codebook_len.max(1)
    };
    let codebook: Vec<f32> = (0..codebook_len)
        .map(|i| -1.0 + 2.0 * i as f32 / codebook_len.max(2) as f32 - 1e-3 * rng.unit() as f32)
        .collect();
    let clusters = positions
        .iter()
        .map(|_| {
            // Sum of three uniforms: a rough bell around the middle of the codebook.
            let u = (rng.unit() + rng.unit() + rng.unit()) / 3.0;
            ((u * codebook_len as f64) as usize).min(codebook_len - 1) as u16
        })
        .collect();
    CompressedTensor {
        shape,
        bits,
        index_bits,
        codebook,
        positions,
        clusters,
    }
}

pub fn dense(rng: &mut Rng, shape: Vec<u32>) -> TensorData {
    let numel: usize = shape.iter().map(|&d| d as usize).product();
    let values = (0..numel)
        .map(|_| (rng.unit() as f32 - 0.5) * 0.1)
        .collect();
    TensorData::Dense { shape, values }
}

fn named(name: &str, data: TensorData) -> NamedTensor {
    NamedTensor {
        name: name.to_string(),
        data,
    }
}

/// LeNet-300-100 as Deep Compression stores it (Table 2): 784-300-100-10, weights 8%,
/// 9%, 26% kept, 6-bit codebooks, 5-bit relative indices, dense biases.
pub fn lenet_300_100(seed: u64) -> ShrkModel {
    let mut rng = Rng::new(seed);
    let mut tensors = Vec::new();
    for (layer, (out_dim, in_dim, keep)) in
        [(300u32, 784u32, 0.08), (100, 300, 0.09), (10, 100, 0.26)]
            .into_iter()
            .enumerate()
    {
        let weight = random_compressed(&mut rng, vec![out_dim, in_dim], keep, 6, 5, 64);
        tensors.push(named(
            &format!("ip{}.weight", layer + 1),
            TensorData::Compressed(weight),
        ));
        tensors.push(named(
            &format!("ip{}.bias", layer + 1),
            dense(&mut rng, vec![out_dim]),
        ));
    }
    ShrkModel {
        spec_toml: "name = \"lenet-300-100\"\ninput = [784]\n".to_string(),
        meta: vec![
            ("mean".to_string(), "0.1307".to_string()),
            ("std".to_string(), "0.3081".to_string()),
        ],
        tensors,
    }
}

/// A small file touching every feature: dense and compressed tensors, all three stream
/// modes, fillers, an empty tensor, a short codebook, a scalar, metadata.
pub fn small_model() -> ShrkModel {
    let mut rng = Rng::new(7);
    let huffman = random_compressed(&mut rng, vec![8, 4, 3, 3], 0.3, 4, 3, 16);
    let fillers = CompressedTensor {
        shape: vec![200],
        bits: 2,
        index_bits: 2,
        codebook: vec![-0.5, 0.25, 0.75],
        positions: vec![0, 3, 40, 199],
        clusters: vec![0, 2, 1, 1],
    };
    let empty = CompressedTensor {
        shape: vec![0, 5],
        bits: 1,
        index_bits: 5,
        codebook: vec![],
        positions: vec![],
        clusters: vec![],
    };
    // One repeated gap in a 1024-symbol index alphabet: the sparse Huffman table wins.
    let regular = CompressedTensor {
        shape: vec![2000],
        bits: 1,
        index_bits: 10,
        codebook: vec![0.5],
        positions: (0..20).map(|i| i * 100 + 99).collect(),
        clusters: vec![0; 20],
    };
    ShrkModel {
        spec_toml: "name = \"tiny\"\n".to_string(),
        meta: vec![("mean".to_string(), "0.5".to_string())],
        tensors: vec![
            named("conv.weight", TensorData::Compressed(huffman)),
            named("conv.bias", dense(&mut rng, vec![8])),
            named("fc.weight", TensorData::Compressed(fillers)),
            named("empty", TensorData::Compressed(empty)),
            named("regular", TensorData::Compressed(regular)),
            named(
                "scale",
                TensorData::Dense {
                    shape: vec![],
                    values: vec![f32::from_bits(0x7FC0_1234)],
                },
            ),
        ],
    }
}

/// Rewrites every CRC a `.shrk` file's framing points at, so that corrupted bytes reach
/// the structural checks behind the checksums. Stops at the first frame that does not
/// fit; never panics.
pub fn fix_checksums(bytes: &mut [u8]) {
    if bytes.len() < 16 {
        return;
    }
    let crc = crc32(&bytes[..12]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    let mut pos = 16usize;
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let Some(end) = (pos + 8).checked_add(len) else {
            return;
        };
        if end + 4 > bytes.len() {
            return;
        }
        let crc = crc32(&bytes[pos..end]);
        bytes[end..end + 4].copy_from_slice(&crc.to_le_bytes());
        pos = end + 4;
    }
}

/// `(start, end)` byte ranges of each section payload of a valid file.
pub fn section_payloads(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 16usize;
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        out.push((pos + 8, pos + 8 + len));
        pos += 8 + len + 4;
    }
    out
}
