//! shrink spec and weights → ONNX (opset 17), for ONNX Runtime and every other consumer.
//!
//! The graph takes the same raw input as `shrink run` (`[batch, …spec.input]`, images in
//! [0, 1]): the spec's normalisation is its first nodes (Sub, Div per channel). Each layer
//! becomes the ONNX operators with the same arithmetic: linear → Gemm (`transB = 1`, the
//! weight stays `[out, in]`), conv → Conv, batch norm → BatchNormalization (inference
//! form), average pooling counts the padding (`count_include_pad = 1`) as shrink does,
//! global pooling is followed by a Flatten, residual → the two branches and Add,
//! inception → Concat along channels, highway → its gate with Sigmoid, Mul, Sub, Add,
//! maxout → Reshape and ReduceMax, randomised leaky ReLU → LeakyRelu with its test-time
//! slope. Dropout is left out (inference). The batch dimension is symbolic (`batch`).
//!
//! Not here: decoding `.shrk` files or model directories (the `shrink` CLI hands over
//! dense weights), reading ONNX (`import`).

use crate::proto::{
    attr_type, data_type, AttributeProto, Dimension, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto,
};
use crate::{OnnxError, Weight};
use prost::Message;
use shrink_format::spec::{Layer, ModelSpec};
use std::collections::HashMap;

/// The opset the exported graphs use (LayerNormalization needs 17).
pub const OPSET: i64 = 17;

/// Encode `spec` with its dense `weights` (named as in `model.safetensors`) as an ONNX
/// model. Every weight the spec needs must be present with its shape.
pub fn export(spec: &ModelSpec, weights: &[Weight]) -> Result<Vec<u8>, OnnxError> {
    let (infos, _) = spec.infer().map_err(OnnxError::Spec)?;
    let shapes: HashMap<String, Vec<usize>> =
        infos.into_iter().map(|i| (i.path, i.input)).collect();
    let mut g = Graph {
        nodes: Vec::new(),
        init: Vec::new(),
        weights: weights.iter().map(|w| (w.name.as_str(), w)).collect(),
        shapes,
        next: 0,
    };
    let mut x = "input".to_string();
    if let Some(n) = &spec.normalize {
        let shape = if spec.input.len() == 3 {
            vec![spec.input[0], 1, 1]
        } else {
            vec![spec.input[0]]
        };
        let mean = g.constant("normalize.mean", shape.clone(), n.mean.clone());
        let std = g.constant("normalize.std", shape, n.std.clone());
        let y = g.node("Sub", vec![x, mean], vec![]);
        x = g.node("Div", vec![y, std], vec![]);
    }
    let y = g.list(&spec.layers, "layers", x)?;
    // Name the output `logits`.
    g.nodes.push(NodeProto {
        input: vec![y],
        output: vec!["logits".into()],
        name: "logits".into(),
        op_type: "Identity".into(),
        ..Default::default()
    });
    let batch = || Dimension {
        dim_value: None,
        dim_param: Some("batch".into()),
    };
    let fixed = |d: usize| Dimension {
        dim_value: Some(d as i64),
        dim_param: None,
    };
    let value = |name: &str, dims: Vec<Dimension>| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto { dim: dims }),
            }),
        }),
    };
    let classes = spec.output_len().map_err(OnnxError::Spec)?;
    let model = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "shrink".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(GraphProto {
            node: g.nodes,
            name: if spec.name.is_empty() {
                "shrink".into()
            } else {
                spec.name.clone()
            },
            initializer: g.init,
            input: vec![value(
                "input",
                std::iter::once(batch())
                    .chain(spec.input.iter().map(|&d| fixed(d)))
                    .collect(),
            )],
            output: vec![value("logits", vec![batch(), fixed(classes)])],
            ..Default::default()
        }),
        metadata_props: vec![],
    };
    Ok(model.encode_to_vec())
}

struct Graph<'w> {
    nodes: Vec<NodeProto>,
    init: Vec<TensorProto>,
    weights: HashMap<&'w str, &'w Weight>,
    /// Input shape of every layer path (from the spec's shape inference).
    shapes: HashMap<String, Vec<usize>>,
    next: usize,
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attr_type::INTS,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attr_type::INT,
        i: v,
        ..Default::default()
    }
}

fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attr_type::FLOAT,
        f: v,
        ..Default::default()
    }
}

impl<'w> Graph<'w> {
    /// Add a node with a fresh output name; returns it.
    fn node(&mut self, op: &str, input: Vec<String>, attribute: Vec<AttributeProto>) -> String {
        self.next += 1;
        let out = format!("{}_{}", op.to_lowercase(), self.next);
        self.nodes.push(NodeProto {
            input,
            output: vec![out.clone()],
            name: out.clone(),
            op_type: op.into(),
            attribute,
            ..Default::default()
        });
        out
    }

    fn constant(&mut self, name: &str, dims: Vec<usize>, values: Vec<f32>) -> String {
        self.init.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type::FLOAT,
            name: name.into(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name.into()
    }

    fn int_constant(&mut self, name: &str, values: Vec<i64>) -> String {
        self.init.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: data_type::INT64,
            name: name.into(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name.into()
    }

    /// A stored weight as an initializer, reshaped to `dims` when given (same values).
    fn weight(&mut self, name: &str, dims: Option<Vec<usize>>) -> Result<String, OnnxError> {
        let w = *self
            .weights
            .get(name)
            .ok_or_else(|| OnnxError::Invalid(format!("the model has no tensor {name}")))?;
        let dims = dims.unwrap_or_else(|| w.shape.clone());
        if dims.iter().product::<usize>() != w.data.len() {
            return Err(OnnxError::Invalid(format!(
                "tensor {name} has {} values, the layer needs {dims:?}",
                w.data.len()
            )));
        }
        Ok(self.constant(name, dims, w.data.clone()))
    }

    fn list(&mut self, layers: &[Layer], prefix: &str, mut x: String) -> Result<String, OnnxError> {
        for (i, layer) in layers.iter().enumerate() {
            x = self.layer(layer, &format!("{prefix}.{i}"), x)?;
        }
        Ok(x)
    }

    fn layer(&mut self, layer: &Layer, path: &str, x: String) -> Result<String, OnnxError> {
        let input = self.shapes.get(path).cloned().unwrap_or_default();
        let image = input.len() == 3;
        let name = |leaf: &str| format!("{path}.{leaf}");
        Ok(match layer {
            Layer::Linear {
                bias, bottleneck, ..
            } => match bottleneck {
                None => {
                    let mut ins = vec![x, self.weight(&name("weight"), None)?];
                    if *bias {
                        ins.push(self.weight(&name("bias"), None)?);
                    }
                    self.node("Gemm", ins, vec![int("transB", 1)])
                }
                Some(_) => {
                    let u = self.weight(&name("u.weight"), None)?;
                    let h = self.node("Gemm", vec![x, u], vec![int("transB", 1)]);
                    let mut ins = vec![h, self.weight(&name("v.weight"), None)?];
                    if *bias {
                        ins.push(self.weight(&name("v.bias"), None)?);
                    }
                    self.node("Gemm", ins, vec![int("transB", 1)])
                }
            },
            Layer::Conv2d {
                kernel,
                stride,
                padding,
                dilation,
                bias,
                groups,
                ..
            } => {
                let mut ins = vec![x, self.weight(&name("weight"), None)?];
                if *bias {
                    ins.push(self.weight(&name("bias"), None)?);
                }
                let (k, s, p, d) = (
                    *kernel as i64,
                    *stride as i64,
                    *padding as i64,
                    *dilation as i64,
                );
                let g = *groups as i64;
                self.node(
                    "Conv",
                    ins,
                    vec![
                        ints("kernel_shape", &[k, k]),
                        ints("strides", &[s, s]),
                        ints("pads", &[p, p, p, p]),
                        ints("dilations", &[d, d]),
                        int("group", g),
                    ],
                )
            }
            Layer::ConvTranspose2d {
                kernel,
                stride,
                padding,
                output_padding,
                bias,
                ..
            } => {
                let mut ins = vec![x, self.weight(&name("weight"), None)?];
                if *bias {
                    ins.push(self.weight(&name("bias"), None)?);
                }
                let (k, s, p, o) = (
                    *kernel as i64,
                    *stride as i64,
                    *padding as i64,
                    *output_padding as i64,
                );
                self.node(
                    "ConvTranspose",
                    ins,
                    vec![
                        ints("kernel_shape", &[k, k]),
                        ints("strides", &[s, s]),
                        ints("pads", &[p, p, p, p]),
                        ints("output_padding", &[o, o]),
                    ],
                )
            }
            Layer::MaxPool2d {
                kernel,
                stride,
                padding,
            } => {
                let (k, p) = (*kernel as i64, *padding as i64);
                let s = stride.unwrap_or(*kernel) as i64;
                let attrs = vec![
                    ints("kernel_shape", &[k, k]),
                    ints("strides", &[s, s]),
                    ints("pads", &[p, p, p, p]),
                ];
                self.node("MaxPool", vec![x], attrs)
            }
            Layer::AvgPool2d {
                kernel,
                stride,
                padding,
                count_include_pad,
            } => {
                let (k, p) = (*kernel as i64, *padding as i64);
                let s = stride.unwrap_or(*kernel) as i64;
                let attrs = vec![
                    ints("kernel_shape", &[k, k]),
                    ints("strides", &[s, s]),
                    ints("pads", &[p, p, p, p]),
                    int("count_include_pad", *count_include_pad as i64),
                ];
                self.node("AveragePool", vec![x], attrs)
            }
            Layer::Pad2d {
                top,
                left,
                bottom,
                right,
                value,
            } => {
                let pads = self.int_constant(
                    &name("pads"),
                    [0, 0, *top, *left, 0, 0, *bottom, *right]
                        .iter()
                        .map(|&v| v as i64)
                        .collect(),
                );
                let v = self.constant(&name("value"), vec![], vec![*value as f32]);
                self.node("Pad", vec![x, pads, v], vec![])
            }
            Layer::Clip { min, max } => {
                let lo = self.constant(&name("min"), vec![], vec![*min as f32]);
                let hi = self.constant(&name("max"), vec![], vec![*max as f32]);
                self.node("Clip", vec![x, lo, hi], vec![])
            }
            Layer::HardSigmoid { alpha, beta } => self.node(
                "HardSigmoid",
                vec![x],
                vec![float("alpha", *alpha as f32), float("beta", *beta as f32)],
            ),
            Layer::HardSwish => self.node("HardSwish", vec![x], vec![]),
            Layer::GlobalAvgPool => {
                let y = self.node("GlobalAveragePool", vec![x], vec![]);
                self.node("Flatten", vec![y], vec![int("axis", 1)])
            }
            Layer::Flatten => self.node("Flatten", vec![x], vec![int("axis", 1)]),
            Layer::Dropout { .. } => x,
            Layer::BatchNorm { eps, .. } => {
                let ins = vec![
                    x,
                    self.weight(&name("weight"), None)?,
                    self.weight(&name("bias"), None)?,
                    self.weight(&name("running_mean"), None)?,
                    self.weight(&name("running_var"), None)?,
                ];
                self.node(
                    "BatchNormalization",
                    ins,
                    vec![float("epsilon", *eps as f32)],
                )
            }
            Layer::LayerNorm { eps } => {
                let ins = vec![
                    x,
                    self.weight(&name("norm.weight"), Some(input.clone()))?,
                    self.weight(&name("norm.bias"), Some(input.clone()))?,
                ];
                self.node(
                    "LayerNormalization",
                    ins,
                    vec![int("axis", 1), float("epsilon", *eps as f32)],
                )
            }
            Layer::Relu => self.node("Relu", vec![x], vec![]),
            Layer::LeakyRelu { slope } => {
                self.node("LeakyRelu", vec![x], vec![float("alpha", *slope as f32)])
            }
            Layer::Rrelu { lower, upper } => self.node(
                "LeakyRelu",
                vec![x],
                vec![float("alpha", ((lower + upper) / 2.0) as f32)],
            ),
            Layer::Prelu { .. } => {
                let c = input.first().copied().unwrap_or(1);
                let dims = if image { vec![c, 1, 1] } else { vec![c] };
                let slope = self.weight(&name("alpha"), Some(dims))?;
                self.node("PRelu", vec![x, slope], vec![])
            }
            Layer::Elu { alpha } => self.node("Elu", vec![x], vec![float("alpha", *alpha as f32)]),
            Layer::Sigmoid => self.node("Sigmoid", vec![x], vec![]),
            Layer::Tanh => self.node("Tanh", vec![x], vec![]),
            Layer::Maxout { pieces } => {
                // [batch, k·pieces, …] → [batch, k, pieces, …] → max over pieces.
                let k = input[0] / pieces;
                let shape: Vec<i64> = [0, k as i64, *pieces as i64]
                    .into_iter()
                    .chain(input[1..].iter().map(|&d| d as i64))
                    .collect();
                let s = self.int_constant(&name("maxout.shape"), shape);
                let y = self.node("Reshape", vec![x, s], vec![]);
                self.node(
                    "ReduceMax",
                    vec![y],
                    vec![ints("axes", &[2]), int("keepdims", 0)],
                )
            }
            Layer::Residual { body, shortcut } => {
                let b = self.list(body, &name("body"), x.clone())?;
                let s = self.list(shortcut, &name("shortcut"), x)?;
                self.node("Add", vec![b, s], vec![])
            }
            Layer::Highway { body, .. } => {
                // T·body(x) + (1 − T)·x, T = sigmoid(gate(x)).
                let c = input[0];
                let gate = if image {
                    let w = self.weight(&name("gate.weight"), Some(vec![c, c, 1, 1]))?;
                    let b = self.weight(&name("gate.bias"), None)?;
                    self.node(
                        "Conv",
                        vec![x.clone(), w, b],
                        vec![ints("kernel_shape", &[1, 1])],
                    )
                } else {
                    let w = self.weight(&name("gate.weight"), None)?;
                    let b = self.weight(&name("gate.bias"), None)?;
                    self.node("Gemm", vec![x.clone(), w, b], vec![int("transB", 1)])
                };
                let t = self.node("Sigmoid", vec![gate], vec![]);
                let h = self.list(body, &name("body"), x.clone())?;
                let th = self.node("Mul", vec![t.clone(), h], vec![]);
                let one = self.constant(&name("one"), vec![], vec![1.0]);
                let carry = self.node("Sub", vec![one, t], vec![]);
                let cx = self.node("Mul", vec![carry, x], vec![]);
                self.node("Add", vec![th, cx], vec![])
            }
            Layer::Inception { branches } => {
                let mut outs = Vec::new();
                for (b, br) in branches.iter().enumerate() {
                    outs.push(self.list(br, &name(&format!("branches.{b}")), x.clone())?);
                }
                self.node("Concat", outs, vec![int("axis", 1)])
            }
        })
    }
}
