//! What a `.shrk` file holds and where its bytes go, as `shrink info FILE.shrk` reports
//! it: one row per tensor (shape, kept/total weights, bits, bytes), the file size, the
//! dense float32 size, their ratio and the file's metadata — and the same as JSON.
//!
//! The byte accounting is [`shrink_format::inspect`]'s (which also backs `shrink
//! compress`'s table); this module only gathers it with the spec and the metadata.
//!
//! Not here: decoding weights or running the model (`shrink-runtime`).

use shrink_format::spec::ModelSpec;
use shrink_format::{ShrkModel, TensorData, TensorSize};
use shrink_runtime::RuntimeError;
use std::fmt::Write;

/// A `.shrk` file described for people: the model's name and shapes, the file's
/// metadata and one [`TensorSummary`] per tensor, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The spec's name (may be empty).
    pub name: String,
    /// Shape of one example.
    pub input: Vec<usize>,
    /// Outputs per example.
    pub classes: usize,
    /// Class names from the spec (may be empty).
    pub class_names: Vec<String>,
    /// File size in bytes.
    pub file_bytes: u64,
    /// Bytes not attributed to a tensor (header, spec, metadata, framing).
    pub header_bytes: u64,
    /// Bytes of all parameters as dense float32 (4 × the spec's parameter count).
    pub dense_bytes: u64,
    /// The file's key/value metadata, in file order.
    pub meta: Vec<(String, String)>,
    /// One row per tensor.
    pub tensors: Vec<TensorSummary>,
}

/// One tensor of a `.shrk` file: its shape, how it is stored and what it costs.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSummary {
    /// Tensor name (e.g. `layers.0.weight`).
    pub name: String,
    /// Dimensions, row-major.
    pub shape: Vec<u32>,
    /// `"compressed"` (pruned and weight-shared) or `"dense"` (float32).
    pub kind: &'static str,
    /// Quantization bits (codebook of at most `2^bits` centroids); 32 for dense.
    pub bits: u8,
    /// Relative-index width in bits; 0 for dense.
    pub index_bits: u8,
    /// The byte accounting of [`shrink_format::inspect`] (elements, kept weights,
    /// fillers, bits per entry with Huffman coding, bytes).
    pub size: TensorSize,
}

impl Summary {
    /// Describe the `.shrk` file `bytes`, already decoded as `file` (so that the bytes
    /// are parsed once for the model and once for the accounting, never more).
    pub fn new(bytes: &[u8], file: &ShrkModel) -> Result<Summary, RuntimeError> {
        let size = shrink_format::inspect(bytes)?;
        let spec = ModelSpec::from_toml(&file.spec_toml)?;
        let (_, out) = spec.infer()?;
        let dense_bytes = 4 * spec.param_count()? as u64;
        let tensors = size
            .tensors
            .into_iter()
            .zip(&file.tensors)
            .map(|(size, t)| {
                let (kind, bits, index_bits) = match &t.data {
                    TensorData::Dense { .. } => ("dense", 32, 0),
                    TensorData::Compressed(c) => ("compressed", c.bits, c.index_bits),
                };
                TensorSummary {
                    name: t.name.clone(),
                    shape: t.data.shape().to_vec(),
                    kind,
                    bits,
                    index_bits,
                    size,
                }
            })
            .collect();
        Ok(Summary {
            name: spec.name.clone(),
            input: spec.input.clone(),
            classes: out.first().copied().unwrap_or(0),
            class_names: spec.class_names.clone(),
            file_bytes: size.total_bytes,
            header_bytes: size.header_bytes,
            dense_bytes,
            meta: file.meta.clone(),
            tensors,
        })
    }

    /// Dense float32 bytes over file bytes.
    pub fn ratio(&self) -> f64 {
        self.dense_bytes as f64 / self.file_bytes.max(1) as f64
    }

    /// The summary as one JSON object:
    ///
    /// ```text
    /// {"name", "input": [..], "classes", "class_names": [..], "file_bytes",
    ///  "header_bytes", "dense_bytes", "ratio", "meta": {key: value, ..},
    ///  "tensors": [{"name", "shape": [..], "kind", "numel", "kept", "fillers",
    ///               "bits", "index_bits", "weight_bits_huffman",
    ///               "index_bits_huffman", "codebook_bytes", "bytes"}, ..]}
    /// ```
    ///
    /// `header_bytes + Σ tensors[i].bytes == file_bytes`. A repeated meta key appears
    /// twice in the object (JSON parsers keep the last, as a reader of the file would).
    pub fn to_json(&self) -> String {
        let mut s = String::from("{");
        field(&mut s, "name");
        string(&mut s, &self.name);
        s.push(',');
        field(&mut s, "input");
        list(&mut s, self.input.iter(), |s, v| {
            let _ = write!(s, "{v}");
        });
        let _ = write!(s, ",\"classes\":{},", self.classes);
        field(&mut s, "class_names");
        list(&mut s, self.class_names.iter(), |s, v| string(s, v));
        let _ = write!(
            s,
            ",\"file_bytes\":{},\"header_bytes\":{},\"dense_bytes\":{},\"ratio\":",
            self.file_bytes, self.header_bytes, self.dense_bytes
        );
        number(&mut s, self.ratio());
        s.push_str(",\"meta\":{");
        for (i, (k, v)) in self.meta.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            string(&mut s, k);
            s.push(':');
            string(&mut s, v);
        }
        s.push_str("},");
        field(&mut s, "tensors");
        list(&mut s, self.tensors.iter(), |s, t| {
            s.push('{');
            field(s, "name");
            string(s, &t.name);
            s.push(',');
            field(s, "shape");
            list(s, t.shape.iter(), |s, v| {
                let _ = write!(s, "{v}");
            });
            let z = &t.size;
            let _ = write!(
                s,
                ",\"kind\":\"{}\",\"numel\":{},\"kept\":{},\"fillers\":{},\"bits\":{},\
                 \"index_bits\":{},\"weight_bits_huffman\":",
                t.kind, z.numel, z.kept, z.fillers, t.bits, t.index_bits
            );
            number(s, z.weight_bits_huffman);
            s.push_str(",\"index_bits_huffman\":");
            number(s, z.index_bits_huffman);
            let _ = write!(
                s,
                ",\"codebook_bytes\":{},\"bytes\":{}}}",
                z.codebook_bytes, z.bytes
            );
        });
        s.push('}');
        s
    }
}

fn field(s: &mut String, name: &str) {
    string(s, name);
    s.push(':');
}

fn list<T>(s: &mut String, items: impl Iterator<Item = T>, mut each: impl FnMut(&mut String, T)) {
    s.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            s.push(',');
        }
        each(s, item);
    }
    s.push(']');
}

/// A JSON number; `null` for NaN and infinities, which JSON cannot hold.
fn number(s: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(s, "{v}");
    } else {
        s.push_str("null");
    }
}

/// A JSON string literal (RFC 8259 escapes).
fn string(s: &mut String, v: &str) {
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        string(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn non_finite_numbers_are_null() {
        let mut s = String::new();
        number(&mut s, f64::NAN);
        s.push(',');
        number(&mut s, 0.25);
        assert_eq!(s, "null,0.25");
    }
}
