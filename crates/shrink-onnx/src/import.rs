//! ONNX graph → shrink spec and weights.
//!
//! Three passes over a decoded [`ModelProto`]:
//! 1. **Fold and map** ([`Mapper`]): walk the nodes in file order. Constants and the
//!    shape arithmetic PyTorch emits for `x.view(x.size(0), -1)` (Shape, Gather,
//!    Unsqueeze, Concat, Cast on integer constants, the batch size kept symbolic) are
//!    evaluated; every node on activations becomes one shrink layer, a two-input Add, or
//!    a Concat. Constant Sub/Div/Mul/Add applied straight to the graph input become the
//!    spec's input normalisation; MatMul followed by Add of a constant becomes one
//!    `linear`; Dropout and Identity vanish; a final Softmax/LogSoftmax is dropped with
//!    a note (shrink's models output logits). Every node that cannot be mapped is
//!    collected, not just the first: the error lists them all.
//! 2. **Nest** ([`nest`]): the layer graph is a DAG from the input to the output. Each
//!    Add/Concat's branches start at their *fork*, the latest value every path to them
//!    passes through (their common dominator); each branch is walked back to its fork
//!    and becomes a `residual` (body + shortcut, empty for the identity) or an
//!    `inception` block. A graph that is not series-parallel (a value used across
//!    blocks) is refused: some node would be walked twice.
//! 3. **Name** the weights after the layer paths the Burn model and the runtime use
//!    (`layers.3.weight`, `layers.5.body.1.running_var`, `layers.7.branches.2.0.bias`),
//!    in PyTorch layouts, and check the spec against the [`Limits`].
//!
//! Not here: protobuf messages (`proto`), writing files (the `shrink` CLI), ONNX out
//! (`export`).

use crate::proto::{attr_type, data_type, AttributeProto, ModelProto, NodeProto, TensorProto};
use crate::{OnnxError, Weight};
use prost::Message;
use shrink_format::limits::MAX_DEPTH;
use shrink_format::spec::{Init, Layer, ModelSpec, NormalizeSpec, ShapeDisplay};
use shrink_format::Limits;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

/// What an import gives: a spec, its weights under the Burn model's names, and notes for
/// the user (dropped softmax, folded normalisation).
#[derive(Debug, Clone)]
pub struct Imported {
    /// The network, input normalisation included.
    pub spec: ModelSpec,
    /// Every parameter the spec needs, named and laid out as in `model.safetensors`.
    pub weights: Vec<Weight>,
    /// Things the user should know that changed nothing in the outputs' order.
    pub notes: Vec<String>,
}

/// One node shrink cannot map, for the refusal list.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsupported {
    /// ONNX operator (`LSTM`), with its domain when not the default one.
    pub op: String,
    /// The node's name (may be empty).
    pub name: String,
    /// Position in the graph's node list, from 0.
    pub index: usize,
    /// Why, when the operator is known but this use of it is not.
    pub why: Option<String>,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?} (node {})", self.op, self.name, self.index)?;
        if let Some(w) = &self.why {
            write!(f, ": {w}")?;
        }
        Ok(())
    }
}

/// Largest ONNX file read: the parameters the limits allow as f32, plus 64 MiB for the
/// graph and integer constants.
pub fn max_file_bytes(limits: &Limits) -> u64 {
    limits.max_params.saturating_mul(4).saturating_add(64 << 20)
}

/// Import an ONNX file; external data is looked up next to it.
pub fn import_file(path: &Path, limits: &Limits) -> Result<Imported, OnnxError> {
    let meta = std::fs::metadata(path).map_err(|e| OnnxError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    if meta.len() > max_file_bytes(limits) {
        return Err(OnnxError::Invalid(format!(
            "{}: {} bytes, more than the {} an ONNX model within max_params may take",
            path.display(),
            meta.len(),
            max_file_bytes(limits)
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| OnnxError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    import_bytes(&bytes, Some(dir), limits)
}

/// Import ONNX bytes. `dir` is where external data files are looked up (none: a model
/// with external data is refused).
pub fn import_bytes(
    bytes: &[u8],
    dir: Option<&Path>,
    limits: &Limits,
) -> Result<Imported, OnnxError> {
    if bytes.len() as u64 > max_file_bytes(limits) {
        return Err(OnnxError::Invalid(format!(
            "the model is {} bytes, more than the {} an ONNX model within max_params may take",
            bytes.len(),
            max_file_bytes(limits)
        )));
    }
    let model = ModelProto::decode(bytes).map_err(OnnxError::Decode)?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| OnnxError::Invalid("the file has no graph (is it an ONNX model?)".into()))?;
    if graph.node.is_empty() {
        return Err(OnnxError::Invalid(
            "the graph has no nodes (is it an ONNX model?)".into(),
        ));
    }
    // A bound on nodes before any per-node work: every shrink layer is at most a few
    // ONNX nodes (the flatten chain is five).
    let max_nodes = limits.max_layers.saturating_mul(8).max(64);
    if graph.node.len() as u64 > max_nodes {
        return Err(OnnxError::Invalid(format!(
            "the graph has {} nodes, more than {max_nodes} (8 × max_layers)",
            graph.node.len()
        )));
    }
    if !graph.sparse_initializer.is_empty() {
        return Err(OnnxError::Invalid(
            "sparse initializers are not supported; save the model with dense initializers".into(),
        ));
    }
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(1);
    let mut m = Mapper::new(opset, limits);
    for t in &graph.initializer {
        let c = read_tensor(t, dir, limits, &mut m.budget)?;
        m.values.insert(t.name.clone(), Val::Const(c));
    }
    // The one real input: graph inputs that are not initializers.
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !m.values.contains_key(&i.name))
        .collect();
    if inputs.len() != 1 {
        return Err(OnnxError::Invalid(format!(
            "the graph has {} inputs ({}); shrink models take one",
            inputs.len(),
            inputs
                .iter()
                .map(|i| format!("{:?}", i.name))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    // A bad input shape is reported after the unsupported nodes (if any): a graph with
    // both is refused for its nodes first, since fixing the shape alone would not do.
    let input_shape = input_shape(inputs[0]);
    match &input_shape {
        Ok(shape) => {
            let source = m.new_act(shape.clone(), shape.clone(), None);
            m.values.insert(inputs[0].name.clone(), Val::Act(source));
            m.source = source;
        }
        Err(_) => {
            m.values.insert(inputs[0].name.clone(), Val::Unknown);
        }
    }
    if graph.output.len() != 1 {
        return Err(OnnxError::Invalid(format!(
            "the graph has {} outputs; shrink models have one (the logits)",
            graph.output.len()
        )));
    }
    m.output_name = graph.output[0].name.clone();
    for (index, node) in graph.node.iter().enumerate() {
        m.node(index, node, dir)?;
    }
    if !m.unsupported.is_empty() {
        return Err(OnnxError::Unsupported(m.unsupported));
    }
    let input_shape = input_shape?;
    let out = match m.values.get(&m.output_name) {
        Some(Val::Act(a)) => *a,
        _ => {
            return Err(OnnxError::Invalid(format!(
                "the graph output {:?} is not computed from the input",
                m.output_name
            )))
        }
    };
    let built = nest(&m, out)?;
    let mut weights = Vec::new();
    let layers = name_weights(built, "layers", &mut weights);
    let normalize = m.normalize(&input_shape)?;
    let spec = ModelSpec {
        name: if graph.name.is_empty() || graph.name == "main_graph" || graph.name == "torch_jit" {
            "imported".into()
        } else {
            graph.name.clone()
        },
        input: input_shape,
        normalize,
        class_names: vec![],
        layers,
    };
    spec.check(limits).map_err(OnnxError::Spec)?;
    Ok(Imported {
        spec,
        weights,
        notes: m.notes,
    })
}

/// The input's shape without the batch: `[C, H, W]` or `[F]`. The first dimension may
/// be symbolic (the batch); every other one must be a number.
fn input_shape(v: &crate::proto::ValueInfoProto) -> Result<Vec<usize>, OnnxError> {
    let t = v
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| OnnxError::Invalid(format!("input {:?} is not a tensor", v.name)))?;
    if t.elem_type != data_type::FLOAT {
        return Err(OnnxError::Invalid(format!(
            "input {:?} has element type {} ; shrink models take float32 (1)",
            v.name, t.elem_type
        )));
    }
    let dims = &t
        .shape
        .as_ref()
        .ok_or_else(|| OnnxError::Invalid(format!("input {:?} has no shape", v.name)))?
        .dim;
    if dims.len() != 2 && dims.len() != 4 {
        return Err(OnnxError::Invalid(format!(
            "input {:?} has {} dimensions; shrink takes [batch, features] or [batch, channels, height, width]",
            v.name,
            dims.len()
        )));
    }
    let mut shape = Vec::new();
    for (i, d) in dims.iter().enumerate().skip(1) {
        match d.dim_value {
            Some(n) if n > 0 => shape.push(n as usize),
            _ => {
                return Err(OnnxError::Invalid(format!(
                    "input {:?}: dimension {i} is dynamic ({}); only the batch (dimension 0) may be — export with a fixed size",
                    v.name,
                    d.dim_param.as_deref().unwrap_or("unknown")
                )))
            }
        }
    }
    Ok(shape)
}

/// Marks the symbolic batch size inside folded integer constants.
const BATCH: i64 = i64::MIN + 1;

/// A folded constant: float or integer values, row-major.
#[derive(Debug, Clone)]
struct Const {
    dims: Vec<usize>,
    data: Data,
}

#[derive(Debug, Clone)]
enum Data {
    F(Vec<f32>),
    I(Vec<i64>),
}

impl Const {
    fn floats(&self) -> Vec<f32> {
        match &self.data {
            Data::F(v) => v.clone(),
            Data::I(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
    fn ints(&self) -> Option<Vec<i64>> {
        match &self.data {
            Data::I(v) => Some(v.clone()),
            Data::F(v) => v
                .iter()
                .all(|x| x.fract() == 0.0)
                .then(|| v.iter().map(|&x| x as i64).collect()),
        }
    }
    fn len(&self) -> usize {
        match &self.data {
            Data::F(v) => v.len(),
            Data::I(v) => v.len(),
        }
    }
}

/// What a value name stands for while mapping.
#[derive(Debug, Clone)]
enum Val {
    Const(Const),
    /// An activation (index into `Mapper::acts`).
    Act(usize),
    /// Produced by a node that could not be mapped; its users are not reported again.
    Unknown,
    /// Folded into a later node (the pre-bias output of MatMul); must not be used again.
    Consumed,
}

/// An activation: its per-example shape in ONNX (`[C, 1, 1]` after global pooling) and
/// in the spec (`[C]`), and the layer node that computes it.
#[derive(Debug, Clone)]
struct Act {
    onnx: Vec<usize>,
    spec: Vec<usize>,
    producer: Option<usize>,
}

/// A node of the layer graph.
#[derive(Debug, Clone)]
enum Kind {
    Layer(Layer, Vec<(String, Vec<usize>, Vec<f32>)>),
    Add,
    Concat,
}

#[derive(Debug, Clone)]
struct LNode {
    kind: Kind,
    inputs: Vec<usize>,
}

struct Mapper<'l> {
    opset: i64,
    limits: &'l Limits,
    /// Values of constants still allowed, against `max_params` (×4 for folding slack).
    budget: u64,
    values: HashMap<String, Val>,
    acts: Vec<Act>,
    lnodes: Vec<LNode>,
    source: usize,
    /// `x·scale + shift` per channel, folded from constant ops on the input.
    norm: Option<(Vec<f64>, Vec<f64>)>,
    output_name: String,
    unsupported: Vec<Unsupported>,
    notes: Vec<String>,
}

type NodeResult = Result<(), String>;

impl<'l> Mapper<'l> {
    fn new(opset: i64, limits: &'l Limits) -> Self {
        Mapper {
            opset,
            limits,
            budget: limits.max_params.saturating_mul(4),
            values: HashMap::new(),
            acts: Vec::new(),
            lnodes: Vec::new(),
            source: 0,
            norm: None,
            output_name: String::new(),
            unsupported: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn new_act(&mut self, onnx: Vec<usize>, spec: Vec<usize>, producer: Option<usize>) -> usize {
        self.acts.push(Act {
            onnx,
            spec,
            producer,
        });
        self.acts.len() - 1
    }

    fn refuse(&mut self, index: usize, node: &NodeProto, why: Option<String>) {
        let op = if node.domain.is_empty() || node.domain == "ai.onnx" {
            node.op_type.clone()
        } else {
            format!("{}:{}", node.domain, node.op_type)
        };
        self.unsupported.push(Unsupported {
            op,
            name: node.name.clone(),
            index,
            why,
        });
        for o in &node.output {
            self.values.insert(o.clone(), Val::Unknown);
        }
    }

    /// Map one node. Errors that concern the whole file (a missing input, bad external
    /// data) return `Err`; a node that cannot be mapped is recorded and mapping goes on.
    fn node(
        &mut self,
        index: usize,
        node: &NodeProto,
        dir: Option<&Path>,
    ) -> Result<(), OnnxError> {
        let mut ins = Vec::new();
        for name in &node.input {
            if name.is_empty() {
                ins.push(None);
                continue;
            }
            match self.values.get(name) {
                Some(Val::Unknown) => {
                    // Downstream of a refused node: refuse only if this op is itself
                    // unknown, so the list names each cause once.
                    if !KNOWN_OPS.contains(&node.op_type.as_str()) {
                        self.refuse(index, node, None);
                    } else {
                        for o in &node.output {
                            self.values.insert(o.clone(), Val::Unknown);
                        }
                    }
                    return Ok(());
                }
                Some(Val::Consumed) => {
                    self.refuse(
                        index,
                        node,
                        Some(format!("uses {name:?}, a value folded into another node")),
                    );
                    return Ok(());
                }
                Some(v) => ins.push(Some(v.clone())),
                None => {
                    return Err(OnnxError::Invalid(format!(
                        "node {index} ({} {:?}) uses {name:?}, which no earlier node or initializer defines (nodes must be in topological order)",
                        node.op_type, node.name
                    )))
                }
            }
        }
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            self.refuse(index, node, None);
            return Ok(());
        }
        if node
            .attribute
            .iter()
            .any(|a| a.g.is_some() || !a.graphs.is_empty())
        {
            self.refuse(index, node, Some("subgraphs are not supported".into()));
            return Ok(());
        }
        if node.op_type == "Constant" {
            let c = constant_node(node, dir, self.limits, &mut self.budget)?;
            match c {
                Some(c) => {
                    self.values.insert(node.output[0].clone(), Val::Const(c));
                }
                None => self.refuse(index, node, Some("unsupported value attribute".into())),
            }
            return Ok(());
        }
        if let Err(why) = self.map(node, &ins) {
            self.refuse(index, node, Some(why).filter(|w| !w.is_empty()));
        }
        Ok(())
    }

    fn set(&mut self, node: &NodeProto, v: Val) {
        if let Some(o) = node.output.first() {
            self.values.insert(o.clone(), v);
        }
    }

    /// Add a one-input layer on activation `x`.
    fn layer(
        &mut self,
        node: &NodeProto,
        x: usize,
        layer: Layer,
        weights: Vec<(String, Vec<usize>, Vec<f32>)>,
        onnx: Vec<usize>,
        spec: Vec<usize>,
    ) {
        self.lnodes.push(LNode {
            kind: Kind::Layer(layer, weights),
            inputs: vec![x],
        });
        let a = self.new_act(onnx, spec, Some(self.lnodes.len() - 1));
        self.set(node, Val::Act(a));
    }

    fn map(&mut self, node: &NodeProto, ins: &[Option<Val>]) -> NodeResult {
        let op = node.op_type.as_str();
        let act = |i: usize| -> Option<usize> {
            match ins.get(i) {
                Some(Some(Val::Act(a))) => Some(*a),
                _ => None,
            }
        };
        let cst = |i: usize| -> Option<&Const> {
            match ins.get(i) {
                Some(Some(Val::Const(c))) => Some(c),
                _ => None,
            }
        };
        let all_const = ins.iter().all(|v| matches!(v, None | Some(Val::Const(_))));
        if all_const && !ins.is_empty() {
            return self.fold(node, ins);
        }
        match op {
            "Identity" | "Dropout" => {
                let x = act(0).ok_or("")?;
                if node.output.len() > 1 && !node.output[1].is_empty() {
                    return Err("the dropout mask output is not supported".into());
                }
                self.set(node, Val::Act(x));
                Ok(())
            }
            "Softmax" | "LogSoftmax" => {
                let x = act(0).ok_or("")?;
                if node.output[0] != self.output_name {
                    return Err("only a final softmax (on the logits) is supported".into());
                }
                self.notes.push(format!(
                    "the final {op} was dropped: shrink's models output logits (the predicted class is the same)"
                ));
                self.set(node, Val::Act(x));
                Ok(())
            }
            "Flatten" | "Reshape" => {
                let x = act(0).ok_or("")?;
                let a = &self.acts[x];
                let numel: usize = a.onnx.iter().product();
                let flat = if op == "Flatten" {
                    let axis = attr_int(node, "axis", 1);
                    if axis != 1 {
                        return Err(format!("axis = {axis} (only 1, which keeps the batch)"));
                    }
                    true
                } else {
                    let target = cst(1)
                        .and_then(Const::ints)
                        .ok_or("the target shape is not a constant")?;
                    let full: Vec<i64> = std::iter::once(BATCH)
                        .chain(a.onnx.iter().map(|&d| d as i64))
                        .collect();
                    let resolved: Vec<Option<i64>> = target
                        .iter()
                        .enumerate()
                        .map(|(i, &t)| match t {
                            0 => full.get(i).copied(),
                            t => Some(t),
                        })
                        .collect();
                    let is = |v: &Option<i64>, want: i64| *v == Some(want);
                    let flatten = resolved.len() == 2
                        && ((is(&resolved[0], BATCH)
                            && (is(&resolved[1], -1) || is(&resolved[1], numel as i64)))
                            || (is(&resolved[0], -1) && is(&resolved[1], numel as i64)));
                    let same = resolved.len() == full.len()
                        && resolved
                            .iter()
                            .zip(&full)
                            .enumerate()
                            .all(|(i, (r, f))| *r == Some(*f) || (i == 0 && is(r, -1)));
                    if !(flatten || same) {
                        let shown: Vec<String> = target
                            .iter()
                            .map(|&t| {
                                if t == BATCH {
                                    "batch".into()
                                } else {
                                    t.to_string()
                                }
                            })
                            .collect();
                        return Err(format!(
                            "reshape of [batch, {}] to [{}]; only flattening to [batch, features] is supported",
                            a.onnx.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "),
                            shown.join(", ")
                        ));
                    }
                    !same || a.onnx.len() == 1
                };
                let a = self.acts[x].clone();
                if !flat || a.spec.len() == 1 {
                    // Nothing to do in the spec (a no-op reshape, or already flat after
                    // global pooling): the same activation under a new name.
                    if flat {
                        self.acts[x].onnx = vec![numel];
                    }
                    self.set(node, Val::Act(x));
                } else {
                    self.layer(node, x, Layer::Flatten, vec![], vec![numel], vec![numel]);
                }
                Ok(())
            }
            "Shape" => {
                let x = act(0).ok_or("")?;
                let c = shape_of(self, x, node);
                self.set(node, Val::Const(c));
                Ok(())
            }
            "Relu" | "Sigmoid" | "Tanh" | "LeakyRelu" | "Elu" => {
                let x = act(0).ok_or("")?;
                let layer = match op {
                    "Relu" => Layer::Relu,
                    "Sigmoid" => Layer::Sigmoid,
                    "Tanh" => Layer::Tanh,
                    "LeakyRelu" => Layer::LeakyRelu {
                        slope: attr_float(node, "alpha", 0.01) as f64,
                    },
                    _ => Layer::Elu {
                        alpha: attr_float(node, "alpha", 1.0) as f64,
                    },
                };
                let a = self.acts[x].clone();
                self.layer(node, x, layer, vec![], a.onnx, a.spec);
                Ok(())
            }
            "Clip" => {
                let x = act(0).ok_or("")?;
                let (lo, hi) = if self.opset >= 11 {
                    let get = |i: usize, d: f32| -> Result<f32, String> {
                        match ins.get(i) {
                            None | Some(None) => Ok(d),
                            Some(Some(Val::Const(c))) if c.len() == 1 => Ok(c.floats()[0]),
                            _ => Err("min/max must be scalar constants".into()),
                        }
                    };
                    (get(1, f32::NEG_INFINITY)?, get(2, f32::INFINITY)?)
                } else {
                    (
                        attr_float(node, "min", f32::NEG_INFINITY),
                        attr_float(node, "max", f32::INFINITY),
                    )
                };
                let layer = clip_layer(lo, hi)?;
                let a = self.acts[x].clone();
                self.layer(node, x, layer, vec![], a.onnx, a.spec);
                Ok(())
            }
            "HardSigmoid" | "HardSwish" => {
                let x = act(0).ok_or("")?;
                let layer = hard_layer(
                    op,
                    attr_float(node, "alpha", 0.2),
                    attr_float(node, "beta", 0.5),
                )?;
                let a = self.acts[x].clone();
                self.layer(node, x, layer, vec![], a.onnx, a.spec);
                Ok(())
            }
            "PRelu" => {
                let x = act(0).ok_or("")?;
                let slope = cst(1).ok_or("the slope must be a constant")?;
                let c = self.acts[x].spec[0];
                let s = slope.floats();
                let alpha = if s.len() == 1 {
                    vec![s[0]; c]
                } else if s.len() == c && slope.dims.iter().filter(|&&d| d != 1).count() <= 1 {
                    s
                } else {
                    return Err(format!(
                        "slope of shape {:?}; one per channel or one in all",
                        slope.dims
                    ));
                };
                let a = self.acts[x].clone();
                self.layer(
                    node,
                    x,
                    Layer::Prelu {
                        init: alpha[0] as f64,
                    },
                    vec![("alpha".into(), vec![c], alpha)],
                    a.onnx,
                    a.spec,
                );
                Ok(())
            }
            "Gemm" => {
                let x = act(0).ok_or("the first input must be the activation")?;
                let b = cst(1).ok_or("the weight must be a constant")?;
                if attr_int(node, "transA", 0) != 0 {
                    return Err("transA = 1 is not supported".into());
                }
                let feats = self.flat_features(x)?;
                let (alpha, beta) = (
                    attr_float(node, "alpha", 1.0),
                    attr_float(node, "beta", 1.0),
                );
                if b.dims.len() != 2 {
                    return Err(format!("weight of shape {:?}", b.dims));
                }
                let trans_b = attr_int(node, "transB", 0) != 0;
                let (out, inn) = if trans_b {
                    (b.dims[0], b.dims[1])
                } else {
                    (b.dims[1], b.dims[0])
                };
                if inn != feats {
                    return Err(format!(
                        "weight takes {inn} features, the input has {feats}"
                    ));
                }
                let bf = b.floats();
                let mut w = if trans_b {
                    bf
                } else {
                    transpose(&bf, inn, out)
                };
                if alpha != 1.0 {
                    w.iter_mut().for_each(|v| *v *= alpha);
                }
                let bias = match cst(2) {
                    Some(c) => {
                        let v = c.floats();
                        let v = if v.len() == 1 {
                            vec![v[0]; out]
                        } else if v.len() == out {
                            v
                        } else {
                            return Err(format!("bias of shape {:?} for {out} outputs", c.dims));
                        };
                        Some(v.into_iter().map(|x| x * beta).collect::<Vec<_>>())
                    }
                    None if ins.len() > 2 && ins[2].is_some() => {
                        return Err("the bias must be a constant".into())
                    }
                    None => None,
                };
                self.linear(node, x, out, inn, w, bias);
                Ok(())
            }
            "MatMul" => {
                let x = act(0).ok_or("the first input must be the activation")?;
                let b = cst(1).ok_or("the second input must be a constant weight")?;
                let feats = self.flat_features(x)?;
                if b.dims.len() != 2 || b.dims[0] != feats {
                    return Err(format!(
                        "weight of shape {:?} for {feats} input features",
                        b.dims
                    ));
                }
                let out = b.dims[1];
                let w = transpose(&b.floats(), feats, out);
                self.linear(node, x, out, feats, w, None);
                Ok(())
            }
            "Add" | "Sub" | "Mul" | "Div" => match (act(0), act(1)) {
                (Some(a), Some(b)) if op == "Add" => {
                    let (sa, sb) = (&self.acts[a], &self.acts[b]);
                    if sa.spec != sb.spec {
                        return Err(format!(
                            "adds {} and {} (broadcasting is not supported)",
                            ShapeDisplay(&sa.spec),
                            ShapeDisplay(&sb.spec)
                        ));
                    }
                    let shape = (sa.onnx.clone(), sa.spec.clone());
                    self.lnodes.push(LNode {
                        kind: Kind::Add,
                        inputs: vec![a, b],
                    });
                    let y = self.new_act(shape.0, shape.1, Some(self.lnodes.len() - 1));
                    self.set(node, Val::Act(y));
                    Ok(())
                }
                (Some(_), Some(_)) => Err(format!(
                    "{op} of two activations is not supported (only Add: residual blocks)"
                )),
                (Some(x), None) => {
                    let c = cst(1).ok_or("")?.clone();
                    self.affine(node, x, op, &c, false)
                }
                (None, Some(x)) => {
                    let c = cst(0).ok_or("")?.clone();
                    self.affine(node, x, op, &c, true)
                }
                _ => Err(String::new()),
            },
            "Concat" => {
                let axis = attr_int(node, "axis", 1);
                let xs: Vec<usize> = (0..ins.len()).filter_map(act).collect();
                if xs.len() != ins.len() {
                    return Err("concatenates activations with constants".into());
                }
                let first = self.acts[xs[0]].spec.clone();
                if first.len() != 3 || (axis != 1 && axis != -3) {
                    return Err(format!(
                        "concatenation along axis {axis} of {}; shrink joins images along channels (axis 1)",
                        ShapeDisplay(&first)
                    ));
                }
                let mut channels = 0;
                for &x in &xs {
                    let s = &self.acts[x].spec;
                    if s.len() != 3 || s[1..] != first[1..] {
                        return Err(format!(
                            "branches of shapes {} and {} differ in height or width",
                            ShapeDisplay(&first),
                            ShapeDisplay(s)
                        ));
                    }
                    channels += s[0];
                }
                let shape = vec![channels, first[1], first[2]];
                self.lnodes.push(LNode {
                    kind: Kind::Concat,
                    inputs: xs,
                });
                let y = self.new_act(shape.clone(), shape, Some(self.lnodes.len() - 1));
                self.set(node, Val::Act(y));
                Ok(())
            }
            "BatchNormalization" => {
                let x = act(0).ok_or("")?;
                if node.output.iter().skip(1).any(|o| !o.is_empty()) {
                    return Err("training mode (running statistics as outputs)".into());
                }
                let c = self.acts[x].spec[0];
                let mut ws = Vec::new();
                for (i, leaf) in ["weight", "bias", "running_mean", "running_var"]
                    .iter()
                    .enumerate()
                {
                    let t = cst(i + 1).ok_or("scale, bias, mean and variance must be constants")?;
                    if t.len() != c {
                        return Err(format!("{leaf} has {} values for {c} channels", t.len()));
                    }
                    ws.push((leaf.to_string(), vec![c], t.floats()));
                }
                if ws[3].2.iter().any(|v| v.is_nan() || *v < 0.0) {
                    return Err("a running variance is negative or NaN".into());
                }
                let eps = attr_float(node, "epsilon", 1e-5) as f64;
                let momentum = 1.0 - attr_float(node, "momentum", 0.9) as f64;
                let a = self.acts[x].clone();
                self.layer(
                    node,
                    x,
                    Layer::BatchNorm { eps, momentum },
                    ws,
                    a.onnx,
                    a.spec,
                );
                Ok(())
            }
            "Conv" | "ConvTranspose" => self.conv(node, ins),
            "MaxPool" | "AveragePool" => self.pool(node, ins),
            "Pad" => {
                let x = act(0).ok_or("")?;
                let mode = attr_str(node, "mode");
                if !(mode.is_empty() || mode == "constant") {
                    return Err(format!("mode {mode} (only constant padding)"));
                }
                if ins.get(3).is_some_and(|v| v.is_some()) {
                    return Err("the axes input is not supported".into());
                }
                let (p, value) = if self.opset >= 11 {
                    let p = cst(1)
                        .and_then(Const::ints)
                        .ok_or("the pads are not constant")?;
                    let value = match ins.get(2) {
                        None | Some(None) => 0.0,
                        Some(Some(Val::Const(c))) if c.len() == 1 => c.floats()[0],
                        _ => return Err("the value is not a constant".into()),
                    };
                    (p, value)
                } else {
                    (attr_ints(node, "pads"), attr_float(node, "value", 0.0))
                };
                let s = self.acts[x].spec.clone();
                if s.len() != 3 || p.len() != 8 || p.iter().any(|&v| v < 0) {
                    return Err(format!("pads {p:?} on {}", ShapeDisplay(&s)));
                }
                if p[0] != 0 || p[1] != 0 || p[4] != 0 || p[5] != 0 {
                    return Err("padding of the batch or channels".into());
                }
                let q = [p[2] as usize, p[3] as usize, p[6] as usize, p[7] as usize];
                if q == [0; 4] {
                    self.set(node, Val::Act(x));
                } else {
                    let y = self.pad(x, q, value as f64);
                    self.set(node, Val::Act(y));
                }
                Ok(())
            }
            "ReduceMean" => {
                let x = act(0).ok_or("")?;
                let s = self.acts[x].spec.clone();
                let axes = match ins.get(1) {
                    Some(Some(Val::Const(c))) => c.ints().ok_or("")?,
                    Some(Some(_)) => return Err("the axes are not constant".into()),
                    _ => attr_ints(node, "axes"),
                };
                let mut axes: Vec<i64> = axes
                    .iter()
                    .map(|&a| if a < 0 { a + 4 } else { a })
                    .collect();
                axes.sort();
                if s.len() != 3 || axes != [2, 3] {
                    return Err(format!(
                        "mean over axes {axes:?} of {} (only over height and width: global pooling)",
                        ShapeDisplay(&s)
                    ));
                }
                let onnx = if attr_int(node, "keepdims", 1) != 0 {
                    vec![s[0], 1, 1]
                } else {
                    vec![s[0]]
                };
                self.layer(node, x, Layer::GlobalAvgPool, vec![], onnx, vec![s[0]]);
                Ok(())
            }
            "GlobalAveragePool" => {
                let x = act(0).ok_or("")?;
                let s = self.acts[x].spec.clone();
                if s.len() != 3 {
                    return Err(format!("input {} is not an image", ShapeDisplay(&s)));
                }
                self.layer(
                    node,
                    x,
                    Layer::GlobalAvgPool,
                    vec![],
                    vec![s[0], 1, 1],
                    vec![s[0]],
                );
                Ok(())
            }
            _ => Err(String::new()),
        }
    }

    /// The features of a flat activation (`[F]`, or `[C, 1, 1]`-shaped after pooling).
    fn flat_features(&self, x: usize) -> Result<usize, String> {
        let a = &self.acts[x];
        if a.spec.len() != 1 {
            return Err(format!(
                "takes {} (an image); flatten it first",
                ShapeDisplay(&a.onnx)
            ));
        }
        Ok(a.spec[0])
    }

    fn linear(
        &mut self,
        node: &NodeProto,
        x: usize,
        out: usize,
        inn: usize,
        w: Vec<f32>,
        bias: Option<Vec<f32>>,
    ) {
        let mut ws = vec![("weight".to_string(), vec![out, inn], w)];
        let has_bias = bias.is_some();
        if let Some(b) = bias {
            ws.push(("bias".into(), vec![out], b));
        }
        self.layer(
            node,
            x,
            Layer::Linear {
                out,
                bias: has_bias,
                init: Init::default(),
                bottleneck: None,
            },
            ws,
            vec![out],
            vec![out],
        );
    }

    /// A constant Add/Sub/Mul/Div: a bias after MatMul, or the input normalisation.
    fn affine(
        &mut self,
        node: &NodeProto,
        x: usize,
        op: &str,
        c: &Const,
        const_first: bool,
    ) -> NodeResult {
        // After a linear layer, conv or batch norm whose output nothing else uses yet:
        // fold into its weights (a MatMul's bias, a scale between layers).
        let users = self.lnodes.iter().filter(|n| n.inputs.contains(&x)).count();
        let invertible = !(const_first && (op == "Sub" || op == "Div"));
        if let (Some(p), 0, true) = (self.acts[x].producer, users, invertible) {
            let a = &self.acts[x];
            if let Some(per) = per_channel(c, a.spec[0], a.onnx.len()) {
                if fold_into(&mut self.lnodes[p].kind, op, &per) {
                    // The value before the fold is gone; its name must not be used again.
                    for v in self.values.values_mut() {
                        if matches!(v, Val::Act(a) if *a == x) {
                            *v = Val::Consumed;
                        }
                    }
                    self.set(node, Val::Act(x));
                    return Ok(());
                }
            }
        }
        if x != self.source || self.lnodes.iter().any(|n| n.inputs.contains(&x)) {
            return Err(format!(
                "{op} with a constant is supported on the input (normalisation) and as a linear layer's bias"
            ));
        }
        if const_first && op != "Add" && op != "Mul" {
            return Err(format!("{op} of a constant by the input"));
        }
        let shape = self.acts[x].onnx.clone();
        let ch = shape[0];
        let v = c.floats();
        // Per channel: a scalar, or one value per channel broadcast over the rest.
        let per: Vec<f64> = if v.len() == 1 {
            vec![v[0] as f64; ch]
        } else if v.len() == ch && {
            let d: Vec<usize> = c.dims.iter().copied().skip_while(|&d| d == 1).collect();
            d.first() == Some(&ch) && d[1..].iter().all(|&d| d == 1) && d.len() == shape.len()
        } {
            v.iter().map(|&x| x as f64).collect()
        } else {
            return Err(format!(
                "{op} by a constant of shape {:?}; normalisation takes one value per channel",
                c.dims
            ));
        };
        let (scale, shift) = self
            .norm
            .get_or_insert_with(|| (vec![1.0; ch], vec![0.0; ch]));
        for i in 0..ch {
            match op {
                "Add" => shift[i] += per[i],
                "Sub" => shift[i] -= per[i],
                "Mul" => {
                    scale[i] *= per[i];
                    shift[i] *= per[i];
                }
                _ => {
                    scale[i] /= per[i];
                    shift[i] /= per[i];
                }
            }
        }
        let a = self.acts[x].clone();
        let y = self.new_act(a.onnx, a.spec, None);
        self.source = y;
        self.set(node, Val::Act(y));
        Ok(())
    }

    /// The spec's `(x − mean) / std` from the folded `x·scale + shift`.
    fn normalize(&self, input: &[usize]) -> Result<Option<NormalizeSpec>, OnnxError> {
        let Some((scale, shift)) = &self.norm else {
            return Ok(None);
        };
        if scale.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            return Err(OnnxError::Invalid(
                "the input normalisation divides by a zero, negative or infinite value".into(),
            ));
        }
        debug_assert_eq!(scale.len(), input[0]);
        Ok(Some(NormalizeSpec {
            mean: scale
                .iter()
                .zip(shift)
                .map(|(a, b)| (-b / a) as f32)
                .collect(),
            std: scale.iter().map(|a| (1.0 / a) as f32).collect(),
        }))
    }

    /// A `pad2d` layer on `x` for padding that differs per side; returns the padded
    /// activation. `value` fills the new border (−∞ before max pooling).
    fn pad(&mut self, x: usize, p: [usize; 4], value: f64) -> usize {
        let s = self.acts[x].spec.clone();
        let shape = vec![s[0], s[1] + p[0] + p[2], s[2] + p[1] + p[3]];
        self.lnodes.push(LNode {
            kind: Kind::Layer(
                Layer::Pad2d {
                    top: p[0],
                    left: p[1],
                    bottom: p[2],
                    right: p[3],
                    value,
                },
                vec![],
            ),
            inputs: vec![x],
        });
        self.new_act(shape.clone(), shape, Some(self.lnodes.len() - 1))
    }

    fn conv(&mut self, node: &NodeProto, ins: &[Option<Val>]) -> NodeResult {
        let transposed = node.op_type == "ConvTranspose";
        let Some(Some(Val::Act(x))) = ins.first() else {
            return Err("the input must be the activation".into());
        };
        let mut x = *x;
        let Some(Some(Val::Const(w))) = ins.get(1) else {
            return Err("the weight must be a constant".into());
        };
        let bias = match ins.get(2) {
            Some(Some(Val::Const(b))) => Some(b.floats()),
            None | Some(None) => None,
            _ => return Err("the bias must be a constant".into()),
        };
        let s = self.acts[x].spec.clone();
        if s.len() != 3 {
            return Err(format!("input {} is not an image", ShapeDisplay(&s)));
        }
        if w.dims.len() != 4 {
            return Err(format!(
                "weight of shape {:?} (only 2-D convolutions)",
                w.dims
            ));
        }
        let group = attr_int(node, "group", 1);
        if group < 1 {
            return Err(format!("group = {group}"));
        }
        let groups = group as usize;
        let (kh, kw) = (w.dims[2], w.dims[3]);
        if kh != kw || kh == 0 {
            return Err(format!("kernel {kh}×{kw} is not square"));
        }
        let k = kh;
        let stride = square(node, "strides", 1)?;
        let dilation = square(node, "dilations", 1)?;
        let (c, h, wd) = (s[0], s[1], s[2]);
        let p = pads(node, h, wd, k, stride, dilation, transposed)?;
        let out;
        let (oh, ow);
        let layer = if transposed {
            let padding = symmetric(&p)?;
            if dilation != 1 {
                return Err("dilated transposed convolution".into());
            }
            if groups != 1 {
                return Err(format!("group = {groups} in a transposed convolution"));
            }
            if w.dims[0] != c {
                return Err(format!(
                    "weight takes {} channels, the input has {c}",
                    w.dims[0]
                ));
            }
            out = w.dims[1];
            let op = attr_ints(node, "output_padding");
            let output_padding = match op.as_slice() {
                [] => 0,
                [a, b] if a == b && *a >= 0 => *a as usize,
                _ => return Err(format!("output_padding {op:?}")),
            };
            if output_padding >= stride {
                return Err(format!("output_padding {output_padding} ≥ stride {stride}"));
            }
            if !attr_ints(node, "output_shape").is_empty() {
                return Err("output_shape is not supported (give pads)".into());
            }
            let f = |l: usize| ((l - 1) * stride + k + output_padding).checked_sub(2 * padding);
            (oh, ow) = match (f(h), f(wd)) {
                (Some(a), Some(b)) if a > 0 && b > 0 => (a, b),
                _ => return Err("the output would be empty".into()),
            };
            Layer::ConvTranspose2d {
                out,
                kernel: k,
                stride,
                padding,
                output_padding,
                bias: bias.is_some(),
                init: Init::default(),
            }
        } else {
            if c % groups != 0 || w.dims[1] * groups != c {
                return Err(format!(
                    "weight takes {} channels per group ({groups} groups), the input has {c}",
                    w.dims[1]
                ));
            }
            out = w.dims[0];
            if out % groups != 0 {
                return Err(format!("{out} filters in {groups} groups"));
            }
            // Padding that differs per side: an explicit pad2d first.
            let padding = match symmetric(&p) {
                Ok(v) => v,
                Err(_) => {
                    x = self.pad(x, p, 0.0);
                    0
                }
            };
            let (h, wd) = (self.acts[x].spec[1], self.acts[x].spec[2]);
            let f = |l: usize| {
                let span = dilation * (k - 1) + 1;
                (l + 2 * padding).checked_sub(span).map(|r| r / stride + 1)
            };
            (oh, ow) = match (f(h), f(wd)) {
                (Some(a), Some(b)) => (a, b),
                _ => {
                    return Err(format!(
                        "kernel {k} does not fit input {}",
                        ShapeDisplay(&s)
                    ))
                }
            };
            Layer::Conv2d {
                out,
                kernel: k,
                stride,
                padding,
                dilation,
                bias: bias.is_some(),
                init: Init::default(),
                groups,
            }
        };
        let mut ws = vec![("weight".to_string(), w.dims.clone(), w.floats())];
        if let Some(b) = bias {
            if b.len() != out {
                return Err(format!("bias has {} values for {out} channels", b.len()));
            }
            ws.push(("bias".into(), vec![out], b));
        }
        let shape = vec![out, oh, ow];
        self.layer(node, x, layer, ws, shape.clone(), shape);
        Ok(())
    }

    fn pool(&mut self, node: &NodeProto, ins: &[Option<Val>]) -> NodeResult {
        let max = node.op_type == "MaxPool";
        let Some(Some(Val::Act(x))) = ins.first() else {
            return Err("the input must be the activation".into());
        };
        let mut x = *x;
        if node.output.len() > 1 && !node.output[1].is_empty() {
            return Err("the indices output is not supported".into());
        }
        let s = self.acts[x].spec.clone();
        if s.len() != 3 {
            return Err(format!("input {} is not an image", ShapeDisplay(&s)));
        }
        let ks = attr_ints(node, "kernel_shape");
        let k = match ks.as_slice() {
            [a, b] if a == b && *a > 0 => *a as usize,
            _ => return Err(format!("kernel_shape {ks:?} (square 2-D kernels only)")),
        };
        let stride = square(node, "strides", 1)?;
        let dilation = square(node, "dilations", 1)?;
        if dilation != 1 {
            return Err("dilated pooling".into());
        }
        let (c, h, w) = (s[0], s[1], s[2]);
        let p = pads(node, h, w, k, stride, 1, false)?;
        let count_include_pad = max || attr_int(node, "count_include_pad", 0) != 0;
        let padding = match symmetric(&p) {
            Ok(v) => v,
            Err(e) if !max && !count_include_pad => {
                return Err(format!("{e}, with count_include_pad = 0"))
            }
            Err(_) => {
                // Max pooling pads with −∞ (the border never wins); average pooling
                // that counts the padding pads with zeros.
                x = self.pad(x, p, if max { f64::NEG_INFINITY } else { 0.0 });
                0
            }
        };
        let (h, w) = (self.acts[x].spec[1], self.acts[x].spec[2]);
        let floor = |l: usize| (l + 2 * padding).checked_sub(k).map(|r| r / stride + 1);
        let ceil = |l: usize| {
            (l + 2 * padding)
                .checked_sub(k)
                .map(|r| r.div_ceil(stride) + 1)
        };
        let (oh, ow) = match (floor(h), floor(w)) {
            (Some(a), Some(b)) if a > 0 && b > 0 => (a, b),
            _ => {
                return Err(format!(
                    "kernel {k} does not fit input {}",
                    ShapeDisplay(&s)
                ))
            }
        };
        if attr_int(node, "ceil_mode", 0) != 0 && (ceil(h) != Some(oh) || ceil(w) != Some(ow)) {
            return Err("ceil_mode = 1 changes the output size here (shrink rounds down)".into());
        }
        let stride = (stride != k).then_some(stride);
        let layer = if max {
            Layer::MaxPool2d {
                kernel: k,
                stride,
                padding,
            }
        } else {
            Layer::AvgPool2d {
                kernel: k,
                stride,
                padding,
                count_include_pad: count_include_pad || padding == 0,
            }
        };
        let shape = vec![c, oh, ow];
        self.layer(node, x, layer, vec![], shape.clone(), shape);
        Ok(())
    }

    /// Evaluate a node whose inputs are all constants (shape arithmetic, mostly).
    fn fold(&mut self, node: &NodeProto, ins: &[Option<Val>]) -> NodeResult {
        let c = |i: usize| -> Result<&Const, String> {
            match ins.get(i) {
                Some(Some(Val::Const(c))) => Ok(c),
                _ => Err(format!("input {i} is missing")),
            }
        };
        let out = match node.op_type.as_str() {
            "Identity" | "Cast" | "Dropout" => c(0)?.clone(),
            "Shape" => {
                let d: Vec<i64> = c(0)?.dims.iter().map(|&d| d as i64).collect();
                Const {
                    dims: vec![d.len()],
                    data: Data::I(d),
                }
            }
            "Gather" => {
                let data = c(0)?;
                let idx = c(1)?.ints().ok_or("indices are not integers")?;
                if attr_int(node, "axis", 0) != 0 || data.dims.len() > 1 {
                    return Err("gather from more than a vector".into());
                }
                let n = data.len() as i64;
                let v = data.ints().ok_or("")?;
                let mut got = Vec::new();
                for &i in &idx {
                    let j = if i < 0 { i + n } else { i };
                    if !(0..n).contains(&j) {
                        return Err(format!("index {i} out of range"));
                    }
                    got.push(v[j as usize]);
                }
                Const {
                    dims: c(1)?.dims.clone(),
                    data: Data::I(got),
                }
            }
            "Unsqueeze" | "Squeeze" => {
                let x = c(0)?.clone();
                let dims = if node.op_type == "Unsqueeze" {
                    let mut d = x.dims.clone();
                    let axes = match ins.get(1) {
                        Some(Some(Val::Const(a))) => a.ints().ok_or("")?,
                        _ => attr_ints(node, "axes"),
                    };
                    let rank = (d.len() + axes.len()) as i64;
                    let mut axes: Vec<i64> = axes
                        .iter()
                        .map(|&a| if a < 0 { a + rank } else { a })
                        .collect();
                    axes.sort();
                    for a in axes {
                        if a < 0 || a as usize > d.len() {
                            return Err(format!("axis {a}"));
                        }
                        d.insert(a as usize, 1);
                    }
                    d
                } else {
                    x.dims.iter().copied().filter(|&d| d != 1).collect()
                };
                Const { dims, data: x.data }
            }
            "Concat" => {
                let mut v = Vec::new();
                for i in 0..ins.len() {
                    let x = c(i)?;
                    if x.dims.len() > 1 {
                        return Err("concatenation of constant matrices".into());
                    }
                    match &x.data {
                        Data::I(i) => v.extend(i.iter().map(|&i| Some(i))),
                        Data::F(f) => v.extend(f.iter().map(|_| None)),
                    }
                }
                if v.iter().all(Option::is_some) {
                    Const {
                        dims: vec![v.len()],
                        data: Data::I(v.into_iter().flatten().collect()),
                    }
                } else {
                    let mut f = Vec::new();
                    for i in 0..ins.len() {
                        f.extend(c(i)?.floats());
                    }
                    Const {
                        dims: vec![f.len()],
                        data: Data::F(f),
                    }
                }
            }
            "ConstantOfShape" => {
                let dims = c(0)?.ints().ok_or("the shape is not integers")?;
                if dims.iter().any(|&d| d < 0 || d == BATCH) {
                    return Err("a shape that depends on the batch size".into());
                }
                let dims: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
                let n = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64));
                let n = n.filter(|&n| n <= self.budget).ok_or("too many values")?;
                self.budget -= n;
                let fill = match attr(node, "value").and_then(|a| a.t.as_ref()) {
                    Some(t) => {
                        let v = read_tensor(t, None, self.limits, &mut self.budget)
                            .map_err(|e| e.to_string())?;
                        if v.len() != 1 {
                            return Err("value is not one number".into());
                        }
                        v.data
                    }
                    None => Data::F(vec![0.0]),
                };
                let data = match fill {
                    Data::F(v) => Data::F(vec![v[0]; n as usize]),
                    Data::I(v) => Data::I(vec![v[0]; n as usize]),
                };
                Const { dims, data }
            }
            "Reshape" => {
                let x = c(0)?.clone();
                let target = c(1)?.ints().ok_or("the shape is not integers")?;
                let n = x.len();
                let mut dims = Vec::new();
                let mut infer = None;
                for (i, &t) in target.iter().enumerate() {
                    match t {
                        0 => dims.push(*x.dims.get(i).ok_or("0 past the input's rank")?),
                        -1 if infer.is_none() => {
                            infer = Some(i);
                            dims.push(1);
                        }
                        t if t > 0 => dims.push(t as usize),
                        _ => return Err(format!("target dimension {t}")),
                    }
                }
                let known: usize = dims.iter().product();
                if let Some(i) = infer {
                    if known == 0 || n % known != 0 {
                        return Err("the sizes do not match".into());
                    }
                    dims[i] = n / known;
                }
                if dims.iter().product::<usize>() != n {
                    return Err("the sizes do not match".into());
                }
                Const { dims, data: x.data }
            }
            "Transpose" => {
                let x = c(0)?;
                let rank = x.dims.len();
                let perm: Vec<usize> = match attr(node, "perm") {
                    Some(a) => a.ints.iter().map(|&p| p as usize).collect(),
                    None => (0..rank).rev().collect(),
                };
                let mut seen = perm.clone();
                seen.sort();
                if seen != (0..rank).collect::<Vec<_>>() {
                    return Err(format!("perm {perm:?}"));
                }
                let dims: Vec<usize> = perm.iter().map(|&p| x.dims[p]).collect();
                let src = strides(&x.dims);
                let idx = index_map(&dims, |o| {
                    o.iter().zip(&perm).map(|(&i, &p)| i * src[p]).sum()
                });
                Const {
                    dims,
                    data: gather_data(&x.data, &idx),
                }
            }
            "Slice" => {
                let x = c(0)?;
                let rank = x.dims.len() as i64;
                let get = |i: usize, a: &str| -> Result<Option<Vec<i64>>, String> {
                    match ins.get(i) {
                        Some(Some(Val::Const(v))) => Ok(Some(v.ints().ok_or("not integers")?)),
                        Some(Some(_)) => Err("not a constant".into()),
                        _ => Ok(attr(node, a).map(|a| a.ints.clone())),
                    }
                };
                let starts = get(1, "starts")?.ok_or("no starts")?;
                let ends = get(2, "ends")?.ok_or("no ends")?;
                let axes = get(3, "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
                let steps = get(4, "steps")?.unwrap_or_else(|| vec![1; starts.len()]);
                if ends.len() != starts.len()
                    || axes.len() != starts.len()
                    || steps.len() != starts.len()
                {
                    return Err("starts, ends, axes and steps differ in length".into());
                }
                let mut range: Vec<(i64, i64, i64)> =
                    x.dims.iter().map(|&d| (0, d as i64, 1)).collect();
                for i in 0..starts.len() {
                    let ax = if axes[i] < 0 { axes[i] + rank } else { axes[i] };
                    if !(0..rank).contains(&ax) || steps[i] == 0 {
                        return Err(format!("axis {} step {}", axes[i], steps[i]));
                    }
                    let d = x.dims[ax as usize] as i64;
                    let clampi = |v: i64, lo: i64, hi: i64| {
                        let v = if v < 0 { v.saturating_add(d) } else { v };
                        v.clamp(lo, hi)
                    };
                    range[ax as usize] = if steps[i] > 0 {
                        (clampi(starts[i], 0, d), clampi(ends[i], 0, d), steps[i])
                    } else {
                        (
                            clampi(starts[i], 0, d - 1),
                            clampi(ends[i], -1, d - 1),
                            steps[i],
                        )
                    };
                }
                let dims: Vec<usize> = range
                    .iter()
                    .map(|&(s, e, st)| {
                        if st > 0 {
                            ((e - s).max(0) + st - 1) / st
                        } else {
                            ((s - e).max(0) + (-st) - 1) / (-st)
                        }
                    } as usize)
                    .collect();
                let src = strides(&x.dims);
                let idx = index_map(&dims, |o| {
                    o.iter()
                        .zip(&range)
                        .zip(&src)
                        .map(|((&i, &(s, _, st)), &str)| ((s + i as i64 * st) as usize) * str)
                        .sum()
                });
                Const {
                    dims,
                    data: gather_data(&x.data, &idx),
                }
            }
            _ => return Err("on constants only (nothing computed from the input)".into()),
        };
        self.set(node, Val::Const(out));
        Ok(())
    }
}

/// Ops that are mapped in some uses: a node downstream of a refused one is not listed
/// again unless its op is outside this list.
const KNOWN_OPS: &[&str] = &[
    "Identity",
    "Dropout",
    "Softmax",
    "LogSoftmax",
    "Flatten",
    "Reshape",
    "Relu",
    "Sigmoid",
    "Tanh",
    "LeakyRelu",
    "Elu",
    "Clip",
    "HardSigmoid",
    "HardSwish",
    "PRelu",
    "Gemm",
    "MatMul",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Concat",
    "BatchNormalization",
    "Conv",
    "ConvTranspose",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Shape",
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Cast",
    "Constant",
    "Pad",
    "ReduceMean",
    "ConstantOfShape",
    "Slice",
    "Transpose",
];

/// A constant that is one value, or one per channel (`[C]`, `[C, 1, 1]`, `[1, C, 1, 1]`),
/// for an activation of `ch` channels and ONNX rank `rank` (without the batch).
fn per_channel(c: &Const, ch: usize, rank: usize) -> Option<Vec<f32>> {
    let v = c.floats();
    if v.len() == 1 {
        return Some(vec![v[0]; ch]);
    }
    let d: Vec<usize> = c.dims.iter().copied().skip_while(|&d| d == 1).collect();
    (v.len() == ch && d.len() == rank && d[0] == ch && d[1..].iter().all(|&d| d == 1)).then_some(v)
}

/// Fold `y = x op c` (per output channel) into the layer that computes `x`: scale its
/// weight and bias (Mul, Div) or shift its bias (Add, Sub). False if it cannot.
fn fold_into(kind: &mut Kind, op: &str, per: &[f32]) -> bool {
    let Kind::Layer(layer, ws) = kind else {
        return false;
    };
    let out = per.len();
    let scale = |ws: &mut Vec<(String, Vec<usize>, Vec<f32>)>, leaves: &[&str]| {
        for (leaf, _, data) in ws.iter_mut() {
            if leaves.contains(&leaf.as_str()) {
                let chunk = data.len() / out;
                for (i, row) in data.chunks_mut(chunk).enumerate() {
                    row.iter_mut().for_each(|v| {
                        *v = if op == "Mul" {
                            *v * per[i]
                        } else {
                            *v / per[i]
                        }
                    });
                }
            }
        }
    };
    match (layer, op) {
        (Layer::Linear { .. } | Layer::Conv2d { .. }, "Mul" | "Div") => {
            scale(ws, &["weight", "bias"]);
            true
        }
        (Layer::BatchNorm { .. }, "Mul" | "Div") => {
            scale(ws, &["weight", "bias"]);
            true
        }
        (Layer::Linear { bias, .. } | Layer::Conv2d { bias, .. }, "Add" | "Sub") => {
            if !*bias {
                ws.push(("bias".into(), vec![out], vec![0.0; out]));
                *bias = true;
            }
            let b = &mut ws.iter_mut().find(|w| w.0 == "bias").expect("bias").2;
            for (v, p) in b.iter_mut().zip(per) {
                *v = if op == "Add" { *v + p } else { *v - p };
            }
            true
        }
        (Layer::BatchNorm { .. }, "Add" | "Sub") => {
            let b = &mut ws.iter_mut().find(|w| w.0 == "bias").expect("bias").2;
            for (v, p) in b.iter_mut().zip(per) {
                *v = if op == "Add" { *v + p } else { *v - p };
            }
            true
        }
        _ => false,
    }
}

/// Clip as a layer: `[0, ∞)` is ReLU.
fn clip_layer(lo: f32, hi: f32) -> Result<Layer, String> {
    if lo == 0.0 && hi == f32::INFINITY {
        return Ok(Layer::Relu);
    }
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return Err(format!("Clip to [{lo}, {hi}]"));
    }
    Ok(Layer::Clip {
        min: lo as f64,
        max: hi as f64,
    })
}

/// HardSigmoid / HardSwish as layers.
fn hard_layer(op: &str, alpha: f32, beta: f32) -> Result<Layer, String> {
    if !(alpha.is_finite() && beta.is_finite()) {
        return Err(format!("alpha {alpha}, beta {beta}"));
    }
    Ok(if op == "HardSwish" {
        Layer::HardSwish
    } else {
        Layer::HardSigmoid {
            alpha: alpha as f64,
            beta: beta as f64,
        }
    })
}

/// A Shape node on an activation: `[batch, dims…]` with the batch symbolic.
fn shape_of(m: &Mapper, x: usize, node: &NodeProto) -> Const {
    let full: Vec<i64> = std::iter::once(BATCH)
        .chain(m.acts[x].onnx.iter().map(|&d| d as i64))
        .collect();
    let n = full.len() as i64;
    let clampi = |v: i64| (if v < 0 { v + n } else { v }).clamp(0, n) as usize;
    let start = clampi(attr_int(node, "start", 0));
    let end = clampi(attr_int(node, "end", n));
    let v: Vec<i64> = full[start..end.max(start)].to_vec();
    Const {
        dims: vec![v.len()],
        data: Data::I(v),
    }
}

/// Row-major strides of `dims`.
fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// For every index of an array of shape `dims` (row-major), the source position `f`
/// gives.
fn index_map(dims: &[usize], f: impl Fn(&[usize]) -> usize) -> Vec<usize> {
    let n: usize = dims.iter().product();
    let mut idx = vec![0; dims.len()];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(f(&idx));
        for a in (0..dims.len()).rev() {
            idx[a] += 1;
            if idx[a] < dims[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    out
}

fn gather_data(d: &Data, idx: &[usize]) -> Data {
    match d {
        Data::F(v) => Data::F(idx.iter().map(|&i| v[i]).collect()),
        Data::I(v) => Data::I(idx.iter().map(|&i| v[i]).collect()),
    }
}

fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = v[r * cols + c];
        }
    }
    t
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_int(node: &NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map(|a| a.i).unwrap_or(default)
}

fn attr_float(node: &NodeProto, name: &str, default: f32) -> f32 {
    attr(node, name).map(|a| a.f).unwrap_or(default)
}

fn attr_ints(node: &NodeProto, name: &str) -> Vec<i64> {
    attr(node, name).map(|a| a.ints.clone()).unwrap_or_default()
}

fn attr_str(node: &NodeProto, name: &str) -> String {
    attr(node, name)
        .map(|a| String::from_utf8_lossy(&a.s).into_owned())
        .unwrap_or_default()
}

/// A 2-D attribute that must be the same along both axes (strides, dilations).
fn square(node: &NodeProto, name: &str, default: usize) -> Result<usize, String> {
    match attr_ints(node, name).as_slice() {
        [] => Ok(default),
        [a, b] if a == b && *a > 0 => Ok(*a as usize),
        other => Err(format!(
            "{name} {other:?} (the same along height and width only)"
        )),
    }
}

/// `[top, left, bottom, right]` from `pads` or `auto_pad`.
fn pads(
    node: &NodeProto,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    transposed: bool,
) -> Result<[usize; 4], String> {
    let auto = attr_str(node, "auto_pad");
    match auto.as_str() {
        "" | "NOTSET" => {
            let p = attr_ints(node, "pads");
            match p.as_slice() {
                [] => Ok([0; 4]),
                [a, b, c, d] if p.iter().all(|&v| v >= 0) => {
                    Ok([*a as usize, *b as usize, *c as usize, *d as usize])
                }
                _ => Err(format!("pads {p:?}")),
            }
        }
        "VALID" => Ok([0; 4]),
        "SAME_UPPER" | "SAME_LOWER" if !transposed => {
            let span = dilation * (k - 1) + 1;
            let total = |l: usize| {
                let out = l.div_ceil(stride);
                ((out - 1) * stride + span).saturating_sub(l)
            };
            let (th, tw) = (total(h), total(w));
            let upper = auto == "SAME_UPPER";
            let split = |t: usize| {
                if upper {
                    (t / 2, t - t / 2)
                } else {
                    (t - t / 2, t / 2)
                }
            };
            let ((t, b), (l, r)) = (split(th), split(tw));
            Ok([t, l, b, r])
        }
        other => Err(format!("auto_pad = {other}")),
    }
}

/// The one padding of a symmetric `[top, left, bottom, right]`.
fn symmetric(p: &[usize; 4]) -> Result<usize, String> {
    if p.iter().all(|&v| v == p[0]) {
        Ok(p[0])
    } else {
        Err(format!(
            "padding {p:?} (top, left, bottom, right) is not the same on every side"
        ))
    }
}

/// A `Constant` node's value.
fn constant_node(
    node: &NodeProto,
    dir: Option<&Path>,
    limits: &Limits,
    budget: &mut u64,
) -> Result<Option<Const>, OnnxError> {
    let Some(a) = node.attribute.first() else {
        return Ok(None);
    };
    Ok(match (a.name.as_str(), a.r#type) {
        ("value", _) => match &a.t {
            Some(t) => Some(read_tensor(t, dir, limits, budget)?),
            None => None,
        },
        ("value_float", attr_type::FLOAT) => Some(Const {
            dims: vec![],
            data: Data::F(vec![a.f]),
        }),
        ("value_int", attr_type::INT) => Some(Const {
            dims: vec![],
            data: Data::I(vec![a.i]),
        }),
        ("value_floats", attr_type::FLOATS) => Some(Const {
            dims: vec![a.floats.len()],
            data: Data::F(a.floats.clone()),
        }),
        ("value_ints", attr_type::INTS) => Some(Const {
            dims: vec![a.ints.len()],
            data: Data::I(a.ints.clone()),
        }),
        _ => {
            let _ = (attr_type::STRING, attr_type::TENSOR);
            None
        }
    })
}

/// A tensor's values, from its typed fields, `raw_data`, or an external file.
fn read_tensor(
    t: &TensorProto,
    dir: Option<&Path>,
    limits: &Limits,
    budget: &mut u64,
) -> Result<Const, OnnxError> {
    let bad = |msg: String| OnnxError::Invalid(format!("tensor {:?}: {msg}", t.name));
    let mut dims = Vec::new();
    let mut numel: u64 = 1;
    for &d in &t.dims {
        if d < 0 {
            return Err(bad(format!("negative dimension {d}")));
        }
        dims.push(d as usize);
        numel = numel.saturating_mul(d as u64);
    }
    if numel > *budget || numel > limits.max_params {
        return Err(bad(format!(
            "{numel} values, more than the limits allow (max_params = {})",
            limits.max_params
        )));
    }
    *budget -= numel;
    let n = numel as usize;
    let external = t.data_location == 1 || !t.external_data.is_empty();
    let raw: Option<Vec<u8>> = if external {
        Some(read_external(t, dir, n)?)
    } else if !t.raw_data.is_empty() || n == 0 {
        Some(t.raw_data.clone())
    } else {
        None
    };
    let width = match t.data_type {
        data_type::FLOAT | data_type::INT32 => 4,
        data_type::INT64 | data_type::DOUBLE => 8,
        other => {
            return Err(bad(format!(
                "element type {other} (float32, float64, int32 and int64 are supported)"
            )))
        }
    };
    let data = match raw {
        Some(raw) => {
            if raw.len() != n * width {
                return Err(bad(format!(
                    "{} bytes of data for {n} values of {width} bytes",
                    raw.len()
                )));
            }
            match t.data_type {
                data_type::FLOAT => Data::F(
                    raw.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect(),
                ),
                data_type::DOUBLE => Data::F(
                    raw.chunks_exact(8)
                        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                        .collect(),
                ),
                data_type::INT32 => Data::I(
                    raw.chunks_exact(4)
                        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64)
                        .collect(),
                ),
                _ => Data::I(
                    raw.chunks_exact(8)
                        .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                        .collect(),
                ),
            }
        }
        None => {
            let (len, data) = match t.data_type {
                data_type::FLOAT => (t.float_data.len(), Data::F(t.float_data.clone())),
                data_type::DOUBLE => (
                    t.double_data.len(),
                    Data::F(t.double_data.iter().map(|&v| v as f32).collect()),
                ),
                data_type::INT32 => (
                    t.int32_data.len(),
                    Data::I(t.int32_data.iter().map(|&v| v as i64).collect()),
                ),
                _ => (t.int64_data.len(), Data::I(t.int64_data.clone())),
            };
            if len != n {
                return Err(bad(format!("{len} values for shape {dims:?}")));
            }
            data
        }
    };
    Ok(Const { dims, data })
}

/// The bytes of an external-data tensor: `location` (relative to the model's folder, no
/// `..`), `offset`, `length`.
fn read_external(t: &TensorProto, dir: Option<&Path>, n: usize) -> Result<Vec<u8>, OnnxError> {
    let bad = |msg: String| OnnxError::Invalid(format!("tensor {:?}: {msg}", t.name));
    let get = |k: &str| {
        t.external_data
            .iter()
            .find(|e| e.key == k)
            .map(|e| e.value.clone())
    };
    let location = get("location").ok_or_else(|| bad("external data without a location".into()))?;
    let rel = Path::new(&location);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(bad(format!(
            "external data location {location:?} is outside the model's folder"
        )));
    }
    let dir = dir.ok_or_else(|| bad("external data, but no folder to read it from".into()))?;
    let path = dir.join(rel);
    let num = |k: &str| -> Result<Option<u64>, OnnxError> {
        get(k)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| bad(format!("external data {k} {v:?} is not a number")))
            })
            .transpose()
    };
    let offset = num("offset")?.unwrap_or(0);
    let width = if matches!(t.data_type, data_type::INT64 | data_type::DOUBLE) {
        8
    } else {
        4
    };
    let want = (n as u64) * width;
    let length = num("length")?.unwrap_or(want);
    if length != want {
        return Err(bad(format!(
            "external data length {length} for {n} values of {width} bytes"
        )));
    }
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(&path).map_err(|e| {
        OnnxError::Invalid(format!(
            "tensor {:?}: external data file {} cannot be opened: {e}",
            t.name,
            path.display()
        ))
    })?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    if offset.saturating_add(length) > size {
        return Err(bad(format!(
            "external data file {} has {size} bytes, the tensor needs {length} at offset {offset}",
            path.display()
        )));
    }
    let mut buf = vec![0u8; length as usize];
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.read_exact(&mut buf))
        .map_err(|e| OnnxError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
    Ok(buf)
}

/// A layer with its weights, or a block of such, before the weights are named.
enum Built {
    Leaf(Layer, Vec<(String, Vec<usize>, Vec<f32>)>),
    Residual(Vec<Built>, Vec<Built>),
    Inception(Vec<Vec<Built>>),
}

/// Turn the layer graph into nested lists: series-parallel decomposition from the output
/// back to the input.
fn nest(m: &Mapper, out: usize) -> Result<Vec<Built>, OnnxError> {
    // Dominators: dom(a) = {a} ∪ ⋂ dom(inputs of a's producer). Activations are numbered
    // in topological order, so one forward pass computes them.
    let mut dom: Vec<BTreeSet<usize>> = Vec::with_capacity(m.acts.len());
    for (a, act) in m.acts.iter().enumerate() {
        let mut d = match act.producer {
            None => BTreeSet::new(),
            Some(p) => {
                let mut it = m.lnodes[p].inputs.iter();
                let first = dom[*it.next().expect("a node has inputs")].clone();
                it.fold(first, |acc, &i| {
                    acc.intersection(&dom[i]).copied().collect()
                })
            }
        };
        d.insert(a);
        dom.push(d);
    }
    let mut walked = vec![false; m.lnodes.len()];
    let not_sp = || {
        OnnxError::Invalid(
            "the graph is not a chain of residual (Add) and inception (Concat) blocks: a value is used across blocks, or before and after the input normalisation"
                .into(),
        )
    };
    fn chain(
        m: &Mapper,
        dom: &[BTreeSet<usize>],
        walked: &mut [bool],
        from: usize,
        to: usize,
        depth: usize,
        not_sp: &dyn Fn() -> OnnxError,
    ) -> Result<Vec<Built>, OnnxError> {
        if depth > MAX_DEPTH {
            return Err(OnnxError::Invalid(format!(
                "blocks are nested more than {MAX_DEPTH} deep"
            )));
        }
        let mut list = Vec::new();
        let mut cur = to;
        while cur != from {
            let p = m.acts[cur].producer.ok_or_else(not_sp)?;
            if std::mem::replace(&mut walked[p], true) {
                return Err(not_sp());
            }
            let node = &m.lnodes[p];
            match &node.kind {
                Kind::Layer(l, w) => {
                    list.push(Built::Leaf(l.clone(), w.clone()));
                    cur = node.inputs[0];
                }
                Kind::Add | Kind::Concat => {
                    let common = node.inputs[1..]
                        .iter()
                        .fold(dom[node.inputs[0]].clone(), |acc, &i| {
                            acc.intersection(&dom[i]).copied().collect()
                        });
                    let fork = *common.iter().next_back().ok_or_else(not_sp)?;
                    if !dom[fork].contains(&from) {
                        return Err(not_sp());
                    }
                    let mut branches = Vec::new();
                    for &i in &node.inputs {
                        branches.push(chain(m, dom, walked, fork, i, depth + 1, not_sp)?);
                    }
                    if matches!(node.kind, Kind::Add) {
                        let b = branches.pop().expect("two inputs");
                        let a = branches.pop().expect("two inputs");
                        let (body, shortcut) = if a.len() >= b.len() { (a, b) } else { (b, a) };
                        if body.is_empty() {
                            return Err(OnnxError::Invalid(
                                "an Add of a value to itself is not a residual block".into(),
                            ));
                        }
                        list.push(Built::Residual(body, shortcut));
                    } else {
                        // An identity branch (DenseNet-style): dropout with p = 0 is
                        // exactly the identity, in training too.
                        for b in branches.iter_mut().filter(|b| b.is_empty()) {
                            b.push(Built::Leaf(Layer::Dropout { p: 0.0 }, vec![]));
                        }
                        list.push(Built::Inception(branches));
                    }
                    cur = fork;
                }
            }
        }
        list.reverse();
        Ok(list)
    }
    let list = chain(m, &dom, &mut walked, m.source, out, 0, &not_sp)?;
    if list.is_empty() {
        return Err(OnnxError::Invalid(
            "the graph computes nothing from its input".into(),
        ));
    }
    Ok(list)
}

/// Name each weight after its layer's path and return the plain layers.
fn name_weights(list: Vec<Built>, prefix: &str, out: &mut Vec<Weight>) -> Vec<Layer> {
    let mut layers = Vec::new();
    for (i, b) in list.into_iter().enumerate() {
        let path = format!("{prefix}.{i}");
        layers.push(match b {
            Built::Leaf(l, ws) => {
                for (leaf, shape, data) in ws {
                    out.push(Weight {
                        name: format!("{path}.{leaf}"),
                        shape,
                        data,
                    });
                }
                l
            }
            Built::Residual(body, shortcut) => Layer::Residual {
                body: name_weights(body, &format!("{path}.body"), out),
                shortcut: name_weights(shortcut, &format!("{path}.shortcut"), out),
            },
            Built::Inception(branches) => Layer::Inception {
                branches: branches
                    .into_iter()
                    .enumerate()
                    .map(|(bi, br)| name_weights(br, &format!("{path}.branches.{bi}"), out))
                    .collect(),
            },
        });
    }
    layers
}
