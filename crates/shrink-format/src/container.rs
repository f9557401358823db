//! The `.shrk` container: byte layout, writer, reader and size accounting.
//!
//! The layout is specified in docs/FORMAT.md; this module is its implementation. A file
//! is a 16-byte header followed by sections (spec, meta, then one per tensor), each
//! framed by its kind and length and closed by a CRC-32. The reader checks every length
//! against the bytes that remain before using it, so a malformed file yields a
//! [`FormatError`], never a panic or an allocation larger than a small multiple of the
//! input.

use crate::checksum::crc32;
use crate::cursor::Cursor;
use crate::model::{checked_numel, CompressedTensor, NamedTensor, ShrkModel, TensorData};
use crate::prelude::*;
use crate::stream::{self, ceil_log2, SymbolReader};
use crate::{sparse, FormatError};

/// The first four bytes of every `.shrk` file.
pub const MAGIC: [u8; 4] = *b"SHRK";
/// The newest format version this crate reads (it reads 1 and 2), and the one
/// [`write_compact`] writes.
pub const VERSION: u16 = 2;
/// The version [`write`] writes: every reader since the first reads it.
pub const VERSION_1: u16 = 1;
/// Most bytes a deflated spec or meta section of a version-2 file may inflate to (and
/// the most [`write_compact`] deflates): a hostile file cannot make a reader allocate
/// more than this for its header, whatever ratio its deflate stream claims.
pub const MAX_INFLATED: u64 = 1 << 20;

const HEADER_LEN: u64 = 16;
/// Section frame: kind u8, 3 reserved bytes, payload length u32.
const FRAME_LEN: u64 = 8;
const CRC_LEN: u64 = 4;

const KIND_SPEC: u8 = 1;
const KIND_META: u8 = 2;
const KIND_TENSOR: u8 = 3;

const TENSOR_DENSE: u8 = 0;
const TENSOR_COMPRESSED: u8 = 1;
/// Version 2: dense values as IEEE half precision.
const TENSOR_DENSE_F16: u8 = 2;
/// Version 2: a compressed tensor whose codebook is half precision.
const TENSOR_COMPRESSED_F16: u8 = 3;

/// Version 2 header sections: the payload as is, or deflated.
const HEADER_RAW: u8 = 0;
const HEADER_DEFLATE: u8 = 1;

/// Where every byte of a `.shrk` file goes:
/// `header_bytes + Σ tensors[i].bytes == total_bytes`, exactly.
#[derive(Clone, Debug, PartialEq)]
pub struct SizeReport {
    /// File size.
    pub total_bytes: u64,
    /// Everything not attributed to a tensor: file header, spec and meta sections
    /// (with their frames and checksums).
    pub header_bytes: u64,
    /// One entry per tensor, in file order.
    pub tensors: Vec<TensorSize>,
}

/// The size accounting of one tensor (one row of Deep Compression's Tables 2–3).
///
/// For a dense tensor: `kept = numel`, `weight_bits_* = 32` (16 when stored in half
/// precision, version 2), `index_bits_* = 0`, and the values count as
/// `weight_stream_bytes`.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSize {
    /// Tensor name.
    pub name: String,
    /// Elements of the dense tensor.
    pub numel: u64,
    /// Kept (non-pruned) weights.
    pub kept: u64,
    /// Filler entries inserted to bridge gaps longer than `2^index_bits`.
    pub fillers: u64,
    /// Whether the tensor is stored compressed.
    pub compressed: bool,
    /// All bytes of the tensor's section: frame, name, shape, fields, codebook, tables,
    /// streams, dense payload and CRC.
    pub bytes: u64,
    /// Codebook bytes (4 per centroid; 2 for a half-precision codebook, version 2).
    pub codebook_bytes: u64,
    /// Width of a weight symbol in fixed-width coding: `ceil(log2(k + f))` with `k` the
    /// codebook length and `f = 1` if the tensor has fillers (the filler symbol), else 0.
    /// Equals `bits` when the codebook is full and there are no fillers.
    pub weight_bits_fixed: f64,
    /// Bits the weight stream actually uses per entry (kept + fillers): Huffman-coded,
    /// or fixed-width where that was smaller. 0 when there are no entries.
    pub weight_bits_huffman: f64,
    /// `index_bits`, the fixed relative-index width.
    pub index_bits_fixed: f64,
    /// Bits the relative-index stream actually uses per entry.
    pub index_bits_huffman: f64,
    /// Bytes of the weight-symbol bit stream (dense: the f32 values).
    pub weight_stream_bytes: u64,
    /// Bytes of the relative-index bit stream.
    pub index_stream_bytes: u64,
    /// Bytes of both Huffman tables (0 for a fixed-width stream).
    pub table_bytes: u64,
    /// Size without Huffman coding ("P+Q" in the paper's tables):
    /// `ceil(entries * (weight_bits_fixed + index_bits_fixed) / 8) + codebook_bytes`
    /// (dense: `4 * numel`).
    pub fixed_payload_bytes: u64,
}

/// Serialises `model` (after [`ShrkModel::validate`]) as format version 1 and accounts
/// for every byte.
pub fn write(model: &ShrkModel) -> Result<(Vec<u8>, SizeReport), FormatError> {
    write_version(model, VERSION_1)
}

/// Serialises `model` as format version 2, which stores the same model in fewer bytes:
/// the spec and meta sections deflated (where that is smaller), dense tensors and
/// codebooks whose values are all exactly half-precision numbers as 16 bits each
/// (lossless: [`read`] gives back `model`; a producer that wants half precision rounds
/// first, [`crate::half::round_to_f16`]). Readers of version 1 only refuse the file.
pub fn write_compact(model: &ShrkModel) -> Result<(Vec<u8>, SizeReport), FormatError> {
    write_version(model, VERSION)
}

/// The version field of a `.shrk` file (`None` when it is not one or is shorter than
/// its header); nothing else is checked.
pub fn file_version(bytes: &[u8]) -> Option<u16> {
    (bytes.len() >= HEADER_LEN as usize && bytes[..4] == MAGIC)
        .then(|| u16::from_le_bytes([bytes[4], bytes[5]]))
}

fn write_version(model: &ShrkModel, version: u16) -> Result<(Vec<u8>, SizeReport), FormatError> {
    model.validate()?;
    let v2 = version >= 2;
    let sections = u32::try_from(model.tensors.len() + 2)
        .map_err(|_| FormatError::InvalidInput("more than 2^32 - 3 tensors".into()))?;
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&sections.to_le_bytes());
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());

    let mut meta = Vec::new();
    put_len(&mut meta, model.meta.len(), "meta entry count")?;
    for (key, value) in &model.meta {
        put_len(&mut meta, key.len(), "meta key")?;
        meta.extend_from_slice(key.as_bytes());
        put_len(&mut meta, value.len(), "meta value")?;
        meta.extend_from_slice(value.as_bytes());
    }
    for (kind, name, payload) in [
        (KIND_SPEC, "spec", model.spec_toml.as_bytes()),
        (KIND_META, "meta", &meta[..]),
    ] {
        write_section(&mut out, kind, name, |out| {
            if v2 {
                put_header_payload(out, payload);
            } else {
                out.extend_from_slice(payload);
            }
            Ok(())
        })?;
    }
    for tensor in &model.tensors {
        write_section(&mut out, KIND_TENSOR, &tensor.name, |out| {
            write_tensor(out, tensor, v2);
            Ok(())
        })?;
    }
    let report = inspect(&out)?;
    Ok((out, report))
}

/// Parses and fully decodes a `.shrk` file: the exact inverse of [`write`].
pub fn read(bytes: &[u8]) -> Result<ShrkModel, FormatError> {
    parse(bytes, true).map(|(model, _)| model)
}

/// The size accounting of a `.shrk` file. Checks the structure, every checksum and every
/// Huffman table, but does not decode the symbol streams (use [`read`] for that).
pub fn inspect(bytes: &[u8]) -> Result<SizeReport, FormatError> {
    parse(bytes, false).map(|(_, report)| report)
}

fn put_len(out: &mut Vec<u8>, len: usize, what: &str) -> Result<(), FormatError> {
    let len = u32::try_from(len)
        .map_err(|_| FormatError::InvalidInput(format!("{what} length {len} exceeds u32::MAX")))?;
    out.extend_from_slice(&len.to_le_bytes());
    Ok(())
}

/// A version-2 spec or meta payload: an encoding byte, then the bytes as they are or
/// (where smaller) their inflated length (u32) and a raw deflate stream.
fn put_header_payload(out: &mut Vec<u8>, payload: &[u8]) {
    if payload.len() as u64 <= MAX_INFLATED {
        let deflated = miniz_oxide::deflate::compress_to_vec(payload, 10);
        if deflated.len() + 4 < payload.len() {
            out.push(HEADER_DEFLATE);
            out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            out.extend_from_slice(&deflated);
            return;
        }
    }
    out.push(HEADER_RAW);
    out.extend_from_slice(payload);
}

/// The half-precision bits of every value, if all are exactly halves.
fn all_f16(values: &[f32]) -> Option<Vec<u16>> {
    values.iter().map(|v| crate::half::f16_exact(*v)).collect()
}

/// Appends a framed section whose payload `body` writes, then its CRC-32.
fn write_section(
    out: &mut Vec<u8>,
    kind: u8,
    name: &str,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let start = out.len();
    out.extend_from_slice(&[kind, 0, 0, 0, 0, 0, 0, 0]);
    body(out)?;
    let len = out.len() - start - FRAME_LEN as usize;
    let len = u32::try_from(len).map_err(|_| {
        FormatError::InvalidInput(format!("section '{name}' is {len} bytes, more than 4 GiB"))
    })?;
    out[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Tensor payload; the model was validated, so every count fits its field. In version
/// 2 (`v2`) values and codebooks that are all exact halves are stored as halves.
fn write_tensor(out: &mut Vec<u8>, tensor: &NamedTensor, v2: bool) {
    out.extend_from_slice(&(tensor.name.len() as u16).to_le_bytes());
    out.extend_from_slice(tensor.name.as_bytes());
    let shape = tensor.data.shape();
    let halves = match &tensor.data {
        _ if !v2 => None,
        TensorData::Dense { values, .. } => all_f16(values),
        TensorData::Compressed(c) => all_f16(&c.codebook),
    };
    let kind = match (&tensor.data, halves.is_some()) {
        (TensorData::Dense { .. }, false) => TENSOR_DENSE,
        (TensorData::Compressed(_), false) => TENSOR_COMPRESSED,
        (TensorData::Dense { .. }, true) => TENSOR_DENSE_F16,
        (TensorData::Compressed(_), true) => TENSOR_COMPRESSED_F16,
    };
    out.extend_from_slice(&[kind, shape.len() as u8]);
    for &dim in shape {
        out.extend_from_slice(&dim.to_le_bytes());
    }
    match &tensor.data {
        TensorData::Dense { values, .. } => match &halves {
            Some(h) => h
                .iter()
                .for_each(|h| out.extend_from_slice(&h.to_le_bytes())),
            None => {
                out.reserve(values.len() * 4);
                for v in values {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        },
        TensorData::Compressed(c) => {
            let codebook_len = c.codebook.len() as u16;
            out.extend_from_slice(&[c.bits, c.index_bits]);
            out.extend_from_slice(&codebook_len.to_le_bytes());
            match &halves {
                Some(h) => h
                    .iter()
                    .for_each(|h| out.extend_from_slice(&h.to_le_bytes())),
                None => {
                    for v in &c.codebook {
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
            // Deep Compression §2: relative indices, fillers for long gaps; the filler
            // weight symbol is `codebook_len`.
            let entries = sparse::encode(&c.positions, &c.clusters, codebook_len, c.index_bits);
            out.extend_from_slice(&(c.positions.len() as u32).to_le_bytes());
            out.extend_from_slice(&(entries.weights.len() as u32).to_le_bytes());
            let weight_width = ceil_log2(c.codebook.len() + (entries.fillers > 0) as usize);
            // Deep Compression §4: Huffman-code weights and indices separately, per layer.
            stream::write(out, &entries.weights, weight_width);
            stream::write(out, &entries.gaps, c.index_bits as u32);
        }
    }
}

/// Reads the file; with `decode == false` tensors are sized but not decoded and the
/// returned model has no tensors.
fn parse(bytes: &[u8], decode: bool) -> Result<(ShrkModel, SizeReport), FormatError> {
    let head = &bytes[..bytes.len().min(4)];
    if head != &MAGIC[..head.len()] {
        return Err(FormatError::BadMagic {
            found: head.to_vec(),
        });
    }
    let mut file = Cursor::new(bytes, 0, "file header".into());
    let header = file.take(HEADER_LEN)?;
    let version = u16::from_le_bytes([header[4], header[5]]);
    if !(VERSION_1..=VERSION).contains(&version) {
        return Err(FormatError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    let stored = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    let computed = crc32(&header[..12]);
    if stored != computed {
        return Err(FormatError::ChecksumMismatch {
            section: "file header".into(),
            stored,
            computed,
        });
    }
    if header[6..8] != [0, 0] {
        return Err(file.corrupt_at(6, "reserved header bytes are not zero"));
    }
    let sections = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if sections < 2 {
        return Err(file.corrupt_at(
            8,
            format!("{sections} sections; a file has at least spec and meta"),
        ));
    }

    let mut model = ShrkModel::default();
    let mut report = SizeReport {
        total_bytes: bytes.len() as u64,
        header_bytes: HEADER_LEN,
        tensors: Vec::new(),
    };
    let mut names = alloc::collections::BTreeSet::new();
    for index in 0..sections {
        let start = file.offset();
        let (expected_kind, section) = match index {
            0 => (KIND_SPEC, "spec section".to_string()),
            1 => (KIND_META, "meta section".to_string()),
            i => (
                KIND_TENSOR,
                format!("tensor section #{} at offset {start}", i - 2),
            ),
        };
        file.set_section(section.clone());
        let frame = file.take(FRAME_LEN)?;
        if frame[0] != expected_kind {
            return Err(file.corrupt_at(
                start,
                format!("section kind {} where {expected_kind} belongs", frame[0]),
            ));
        }
        if frame[1..4] != [0, 0, 0] {
            return Err(file.corrupt_at(start + 1, "reserved section bytes are not zero"));
        }
        let len = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]) as u64;
        let payload = file.take(len)?;
        let stored = file.u32()?;
        // start + FRAME_LEN + len <= bytes.len(), checked by the takes above.
        let computed = crc32(&bytes[start as usize..(start + FRAME_LEN + len) as usize]);
        if stored != computed {
            return Err(FormatError::ChecksumMismatch {
                section,
                stored,
                computed,
            });
        }
        let section_bytes = FRAME_LEN + len + CRC_LEN;
        let mut cur = Cursor::new(payload, start + FRAME_LEN, section.clone());
        let inflated;
        let mut header_cur = if expected_kind != KIND_TENSOR && version >= 2 {
            inflated = read_header_payload(&mut cur)?;
            match &inflated {
                Some(bytes) => Cursor::new(bytes, 0, format!("{section} (inflated)")),
                None => {
                    let at = cur.offset();
                    Cursor::new(cur.take(cur.remaining())?, at, section)
                }
            }
        } else {
            Cursor::new(&[], 0, section)
        };
        match expected_kind {
            KIND_SPEC if version >= 2 => {
                model.spec_toml = header_cur.utf8(header_cur.remaining(), "spec")?;
                report.header_bytes += section_bytes;
            }
            KIND_META if version >= 2 => {
                model.meta = read_meta(&mut header_cur)?;
                header_cur.expect_end()?;
                report.header_bytes += section_bytes;
            }
            KIND_SPEC => {
                model.spec_toml = cur.utf8(len, "spec")?;
                report.header_bytes += section_bytes;
            }
            KIND_META => {
                model.meta = read_meta(&mut cur)?;
                report.header_bytes += section_bytes;
            }
            _ => {
                let name_at = cur.offset();
                let (tensor, mut size) = read_tensor(&mut cur, decode, version)?;
                if !names.insert(size.name.clone()) {
                    return Err(
                        cur.corrupt_at(name_at, format!("duplicate tensor name '{}'", size.name))
                    );
                }
                size.bytes = section_bytes;
                report.tensors.push(size);
                model.tensors.extend(tensor);
            }
        }
        cur.expect_end()?;
    }
    file.set_section("file".into());
    file.expect_end()?;
    Ok((model, report))
}

/// A version-2 spec or meta payload: `None` when stored as is (the cursor then stands
/// at the bytes), else the inflated bytes, at most [`MAX_INFLATED`] and exactly the
/// length the section declares.
fn read_header_payload(cur: &mut Cursor) -> Result<Option<Vec<u8>>, FormatError> {
    let at = cur.offset();
    match cur.u8()? {
        HEADER_RAW => Ok(None),
        HEADER_DEFLATE => {
            let len_at = cur.offset();
            let len = cur.u32()? as u64;
            if len > MAX_INFLATED {
                return Err(cur.corrupt_at(
                    len_at,
                    format!("deflated section declares {len} bytes, more than {MAX_INFLATED}"),
                ));
            }
            let stream_at = cur.offset();
            let stream = cur.take(cur.remaining())?;
            // The limit bounds the allocation whatever the stream holds.
            let bytes = miniz_oxide::inflate::decompress_to_vec_with_limit(stream, len as usize)
                .map_err(|e| {
                    cur.corrupt_at(
                        stream_at,
                        format!(
                            "the deflate stream does not inflate to the declared {len} bytes ({:?})",
                            e.status
                        ),
                    )
                })?;
            if bytes.len() as u64 != len {
                return Err(cur.corrupt_at(
                    len_at,
                    format!(
                        "deflated section declares {len} bytes, inflates to {}",
                        bytes.len()
                    ),
                ));
            }
            Ok(Some(bytes))
        }
        other => Err(cur.corrupt_at(at, format!("unknown section encoding {other}"))),
    }
}

fn read_meta(cur: &mut Cursor) -> Result<Vec<(String, String)>, FormatError> {
    let count = cur.u32()?;
    // No preallocation: each entry consumes at least 8 bytes or fails.
    let mut meta = Vec::new();
    for _ in 0..count {
        let key_len = cur.u32()? as u64;
        let key = cur.utf8(key_len, "meta key")?;
        let value_len = cur.u32()? as u64;
        let value = cur.utf8(value_len, "meta value")?;
        meta.push((key, value));
    }
    Ok(meta)
}

/// One tensor payload: the tensor (if `decode`) and its size accounting (`bytes` is
/// filled in by the caller).
fn read_tensor(
    cur: &mut Cursor,
    decode: bool,
    version: u16,
) -> Result<(Option<NamedTensor>, TensorSize), FormatError> {
    let name_len = cur.u16()? as u64;
    let name = cur.utf8(name_len, "tensor name")?;
    cur.set_section(format!("tensor '{name}'"));
    let kind_at = cur.offset();
    let kind = cur.u8()?;
    let ndim = cur.u8()? as u64;
    let dims_at = cur.offset();
    let shape: Vec<u32> = cur
        .take(4 * ndim)?
        .chunks_exact(4)
        .map(|d| u32::from_le_bytes([d[0], d[1], d[2], d[3]]))
        .collect();
    let numel = checked_numel(&shape).ok_or_else(|| {
        cur.corrupt_at(
            dims_at,
            format!("shape {shape:?} has more than u32::MAX elements"),
        )
    })?;
    let size = TensorSize {
        name,
        numel,
        kept: numel,
        fillers: 0,
        compressed: false,
        bytes: 0,
        codebook_bytes: 0,
        weight_bits_fixed: 32.0,
        weight_bits_huffman: 32.0,
        index_bits_fixed: 0.0,
        index_bits_huffman: 0.0,
        weight_stream_bytes: 4 * numel,
        index_stream_bytes: 0,
        table_bytes: 0,
        fixed_payload_bytes: 4 * numel,
    };
    match kind {
        TENSOR_DENSE | TENSOR_DENSE_F16 if kind == TENSOR_DENSE || version >= 2 => {
            let half = kind == TENSOR_DENSE_F16;
            let mut size = size;
            if half {
                size.weight_bits_fixed = 16.0;
                size.weight_bits_huffman = 16.0;
                size.weight_stream_bytes = 2 * numel;
                size.fixed_payload_bytes = 2 * numel;
            }
            let data = if decode {
                let values = if half {
                    f16s(cur, numel)?
                } else {
                    cur.f32s(numel)?
                };
                Some(TensorData::Dense { shape, values })
            } else {
                cur.take(if half { 2 } else { 4 } * numel)?;
                None
            };
            let tensor = data.map(|data| NamedTensor {
                name: size.name.clone(),
                data,
            });
            Ok((tensor, size))
        }
        TENSOR_COMPRESSED => read_compressed(cur, shape, numel, decode, size, false),
        TENSOR_COMPRESSED_F16 if version >= 2 => {
            read_compressed(cur, shape, numel, decode, size, true)
        }
        other => Err(cur.corrupt_at(
            kind_at,
            format!("unknown tensor kind {other} (in a version {version} file)"),
        )),
    }
}

/// `n` half-precision values as f32 (bounds-checked by the take: no allocation beyond
/// what the payload holds).
fn f16s(cur: &mut Cursor, n: u64) -> Result<Vec<f32>, FormatError> {
    let bytes = cur.take(2 * n)?;
    Ok(bytes
        .chunks_exact(2)
        .map(|b| crate::half::f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
        .collect())
}

fn read_compressed(
    cur: &mut Cursor,
    shape: Vec<u32>,
    numel: u64,
    decode: bool,
    mut size: TensorSize,
    half_codebook: bool,
) -> Result<(Option<NamedTensor>, TensorSize), FormatError> {
    let value_bytes: u64 = if half_codebook { 2 } else { 4 };
    let bits_at = cur.offset();
    let bits = cur.u8()?;
    if !(1..=8).contains(&bits) {
        return Err(cur.corrupt_at(bits_at, format!("bits = {bits} is not in 1..=8")));
    }
    let index_bits = cur.u8()?;
    if !(1..=16).contains(&index_bits) {
        return Err(cur.corrupt_at(
            bits_at + 1,
            format!("index_bits = {index_bits} is not in 1..=16"),
        ));
    }
    let codebook_len = cur.u16()?;
    if codebook_len as u32 > 1 << bits {
        return Err(cur.corrupt_at(
            bits_at + 2,
            format!("codebook of {codebook_len} entries for {bits} bits"),
        ));
    }
    let codebook = if !decode {
        cur.take(value_bytes * codebook_len as u64)?;
        Vec::new()
    } else if half_codebook {
        f16s(cur, codebook_len as u64)?
    } else {
        cur.f32s(codebook_len as u64)?
    };
    let counts_at = cur.offset();
    let kept = cur.u32()? as u64;
    let entries = cur.u32()? as u64;
    if kept > entries
        || entries > numel
        || (kept == 0) != (entries == 0)
        || (kept > 0 && codebook_len == 0)
    {
        return Err(cur.corrupt_at(
            counts_at,
            format!("{kept} kept weights in {entries} entries ({numel} elements, codebook of {codebook_len})"),
        ));
    }
    let fillers = entries - kept;
    let weight_width = ceil_log2(codebook_len as usize + (fillers > 0) as usize);
    // Both readers bound `entries` by their payload: at least one bit per entry in the
    // index stream (index_bits >= 1, Huffman codes >= 1 bit).
    let weights = stream::read(
        cur,
        "weight",
        codebook_len as usize + 1,
        weight_width,
        entries,
    )?;
    let indices = stream::read(cur, "index", 1 << index_bits, index_bits as u32, entries)?;

    let per_entry = |bit_len: u64| {
        if entries == 0 {
            0.0
        } else {
            bit_len as f64 / entries as f64
        }
    };
    size.kept = kept;
    size.fillers = fillers;
    size.compressed = true;
    size.codebook_bytes = value_bytes * codebook_len as u64;
    size.weight_bits_fixed = weight_width as f64;
    size.weight_bits_huffman = per_entry(weights.bit_len);
    size.index_bits_fixed = index_bits as f64;
    size.index_bits_huffman = per_entry(indices.bit_len);
    size.weight_stream_bytes = weights.payload.len() as u64;
    size.index_stream_bytes = indices.payload.len() as u64;
    size.table_bytes = weights.table_bytes + indices.table_bytes;
    size.fixed_payload_bytes =
        (entries * (weight_width as u64 + index_bits as u64)).div_ceil(8) + size.codebook_bytes;
    if !decode {
        return Ok((None, size));
    }

    let mut rebuild = sparse::Decoder::new(numel, index_bits, codebook_len, kept as usize);
    let mut weight_reader = SymbolReader::new(&weights);
    let mut index_reader = SymbolReader::new(&indices);
    for _ in 0..entries {
        let weight = weight_reader.next().ok_or_else(|| {
            cur.corrupt_at(
                weight_reader.offset(),
                "invalid Huffman code in the weight stream",
            )
        })?;
        let gap = index_reader.next().ok_or_else(|| {
            cur.corrupt_at(
                index_reader.offset(),
                "invalid Huffman code in the index stream",
            )
        })?;
        rebuild
            .push(weight, gap)
            .map_err(|e| cur.corrupt_at(index_reader.offset(), e))?;
    }
    weight_reader
        .finish()
        .map_err(|e| cur.corrupt_at(weights.payload_offset, format!("weight stream: {e}")))?;
    index_reader
        .finish()
        .map_err(|e| cur.corrupt_at(indices.payload_offset, format!("index stream: {e}")))?;
    let (positions, clusters) = rebuild.finish().map_err(|e| cur.corrupt_at(counts_at, e))?;
    if positions.len() as u64 != kept {
        return Err(cur.corrupt_at(
            counts_at,
            format!(
                "header says {kept} kept weights, the streams hold {}",
                positions.len()
            ),
        ));
    }
    let tensor = CompressedTensor {
        shape,
        bits,
        index_bits,
        codebook,
        positions,
        clusters,
    };
    Ok((
        Some(NamedTensor {
            name: size.name.clone(),
            data: TensorData::Compressed(tensor),
        }),
        size,
    ))
}
