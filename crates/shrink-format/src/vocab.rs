//! The layer vocabulary: what kind of thing each [`Layer`] is, and the sub-layer lists
//! of the blocks, in one place.
//!
//! Consumers (the Burn builder, the runtime's planner, the compressor, the visualiser,
//! the experiments) ask a layer these questions instead of copying `matches!` lists of
//! variants. [`Layer::role`] is the one match over the variants that says which role
//! each plays (a new variant is added there), and every predicate follows from it.
//! [`Layer::children`] / [`Layer::children_mut`] name the sub-layer lists of the blocks
//! (`body`, `shortcut`, `branches.{i}`: the module paths the weights are named by), so
//! a walk over a spec is written once per consumer, not once per block kind.
//!
//! Not here: shapes and costs (`spec::ModelSpec::infer`), tensor names of a layer's
//! parameters (the Burn model and the runtime's planner).

use crate::prelude::*;
use crate::spec::{Init, Layer};

/// What a layer does, in the terms consumers match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Holds a weight matrix or kernel: linear, conv, conv-transpose (the layers Deep
    /// Compression prunes and quantizes).
    Weighted,
    /// An elementwise or per-channel nonlinearity (ReLU family, sigmoid, tanh, maxout).
    Activation,
    /// Pooling: max, average, global average.
    Pool,
    /// Batch or layer normalisation.
    Norm,
    /// Changes only the layout: flatten, pad2d.
    Reshape,
    /// Active in training only: dropout.
    Regularizer,
    /// Holds sub-layer lists: residual, highway, inception (see [`Layer::children`]).
    Block,
}

impl Layer {
    /// This layer's [`Role`]: the one match over the variants.
    pub fn role(&self) -> Role {
        match self {
            Layer::Linear { .. } | Layer::Conv2d { .. } | Layer::ConvTranspose2d { .. } => {
                Role::Weighted
            }
            Layer::Relu
            | Layer::LeakyRelu { .. }
            | Layer::Prelu { .. }
            | Layer::Rrelu { .. }
            | Layer::Elu { .. }
            | Layer::Sigmoid
            | Layer::Tanh
            | Layer::Maxout { .. }
            | Layer::Clip { .. }
            | Layer::HardSigmoid { .. }
            | Layer::HardSwish => Role::Activation,
            Layer::MaxPool2d { .. } | Layer::AvgPool2d { .. } | Layer::GlobalAvgPool => Role::Pool,
            Layer::BatchNorm { .. } | Layer::LayerNorm { .. } => Role::Norm,
            Layer::Flatten | Layer::Pad2d { .. } => Role::Reshape,
            Layer::Dropout { .. } => Role::Regularizer,
            Layer::Residual { .. } | Layer::Highway { .. } | Layer::Inception { .. } => Role::Block,
        }
    }

    /// A nonlinearity: the ReLU family, sigmoid, tanh, maxout.
    pub fn is_activation(&self) -> bool {
        self.role() == Role::Activation
    }

    /// Max, average or global average pooling.
    pub fn is_pool(&self) -> bool {
        self.role() == Role::Pool
    }

    /// Batch or layer normalisation.
    pub fn is_norm(&self) -> bool {
        self.role() == Role::Norm
    }

    /// Residual, highway or inception: a layer with sub-layer lists.
    pub fn is_block(&self) -> bool {
        self.role() == Role::Block
    }

    /// Whether the layer keeps an image an image of the same channel count or fewer
    /// and follows a convolution naturally: activations, normalisation, dropout and
    /// windowed pooling (not global pooling, which makes it flat).
    pub fn keeps_image(&self) -> bool {
        match self.role() {
            Role::Activation | Role::Norm | Role::Regularizer => true,
            Role::Pool => !matches!(self, Layer::GlobalAvgPool),
            Role::Weighted | Role::Reshape | Role::Block => false,
        }
    }

    /// Whether the layer itself (not counting what is inside a block) has learned
    /// parameters: weighted layers, normalisation, PReLU's slopes and a highway gate.
    pub fn holds_params(&self) -> bool {
        match self {
            Layer::Prelu { .. } | Layer::Highway { .. } => true,
            _ => matches!(self.role(), Role::Weighted | Role::Norm),
        }
    }

    /// The weight initialiser of a weighted layer.
    pub fn init_mut(&mut self) -> Option<&mut Init> {
        match self {
            Layer::Linear { init, .. }
            | Layer::Conv2d { init, .. }
            | Layer::ConvTranspose2d { init, .. } => Some(init),
            _ => None,
        }
    }

    /// A block's sub-layer lists with their module names (`body`, `shortcut`,
    /// `branches.{i}`), in the order the weights are laid out; empty for other layers.
    pub fn children(&self) -> Vec<(String, &[Layer])> {
        match self {
            Layer::Residual { body, shortcut } => vec![
                ("body".to_string(), body.as_slice()),
                ("shortcut".to_string(), shortcut.as_slice()),
            ],
            Layer::Highway { body, .. } => vec![("body".to_string(), body.as_slice())],
            Layer::Inception { branches } => branches
                .iter()
                .enumerate()
                .map(|(i, b)| (format!("branches.{i}"), b.as_slice()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// [`Layer::children`], mutable.
    pub fn children_mut(&mut self) -> Vec<(String, &mut Vec<Layer>)> {
        match self {
            Layer::Residual { body, shortcut } => vec![
                ("body".to_string(), body),
                ("shortcut".to_string(), shortcut),
            ],
            Layer::Highway { body, .. } => vec![("body".to_string(), body)],
            Layer::Inception { branches } => branches
                .iter_mut()
                .enumerate()
                .map(|(i, b)| (format!("branches.{i}"), b))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether this layer or any layer nested in it satisfies `f`.
    pub fn any(&self, f: &dyn Fn(&Layer) -> bool) -> bool {
        f(self)
            || self
                .children()
                .iter()
                .any(|(_, c)| c.iter().any(|l| l.any(f)))
    }

    /// A fully connected layer with bias and the default initialiser.
    pub fn linear(out: usize) -> Layer {
        Layer::Linear {
            out,
            bias: true,
            init: Init::default(),
            bottleneck: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ModelSpec;

    /// One layer of every kind, nested blocks included.
    fn every_kind() -> Vec<Layer> {
        let text = shrink_testkit::ALL_LAYERS;
        let spec = ModelSpec::from_toml(text).unwrap();
        let mut all = Vec::new();
        fn walk(ls: &[Layer], all: &mut Vec<Layer>) {
            for l in ls {
                all.push(l.clone());
                for (_, c) in l.children() {
                    walk(c, all);
                }
            }
        }
        walk(&spec.layers, &mut all);
        all
    }

    fn kinds_where(f: impl Fn(&Layer) -> bool) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = every_kind()
            .iter()
            .filter(|l| f(l))
            .map(|l| l.kind())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    #[test]
    fn the_fixture_has_every_kind() {
        let seen = kinds_where(|_| true);
        assert_eq!(seen.len(), 21, "{seen:?}");
        ModelSpec::from_toml(shrink_testkit::ALL_LAYERS)
            .unwrap()
            .check(&crate::Limits::default())
            .expect("the fixture is a valid network");
    }

    #[test]
    fn activations() {
        assert_eq!(
            kinds_where(Layer::is_activation),
            [
                "elu",
                "leaky_relu",
                "maxout",
                "prelu",
                "relu",
                "rrelu",
                "sigmoid",
                "tanh"
            ]
        );
    }

    #[test]
    fn pools_norms_blocks_weights() {
        assert_eq!(
            kinds_where(Layer::is_pool),
            ["avg_pool2d", "global_avg_pool", "max_pool2d"]
        );
        assert_eq!(kinds_where(Layer::is_norm), ["batch_norm", "layer_norm"]);
        assert_eq!(
            kinds_where(Layer::is_block),
            ["highway", "inception", "residual"]
        );
        assert_eq!(
            kinds_where(Layer::has_weight),
            ["conv2d", "conv_transpose2d", "linear"]
        );
        assert_eq!(
            kinds_where(|l| l.role() == Role::Weighted),
            kinds_where(Layer::has_weight)
        );
    }

    #[test]
    fn keeps_image_and_holds_params() {
        let keeps = kinds_where(Layer::keeps_image);
        assert!(keeps.contains(&"max_pool2d") && keeps.contains(&"dropout"));
        assert!(keeps.contains(&"relu") && keeps.contains(&"batch_norm"));
        for k in ["global_avg_pool", "flatten", "linear", "conv2d", "residual"] {
            assert!(!keeps.contains(&k), "{k}");
        }
        assert_eq!(
            kinds_where(Layer::holds_params),
            [
                "batch_norm",
                "conv2d",
                "conv_transpose2d",
                "highway",
                "layer_norm",
                "linear",
                "prelu"
            ]
        );
    }

    #[test]
    fn children_name_the_weight_paths() {
        let names = |l: &Layer| -> Vec<String> { l.children().into_iter().map(|c| c.0).collect() };
        let all = every_kind();
        let by_kind = |k: &str| all.iter().find(|l| l.kind() == k).unwrap().clone();
        assert_eq!(names(&by_kind("residual")), ["body", "shortcut"]);
        assert_eq!(names(&by_kind("highway")), ["body"]);
        let inc = by_kind("inception");
        let Layer::Inception { branches } = &inc else {
            unreachable!()
        };
        let want: Vec<String> = (0..branches.len())
            .map(|i| format!("branches.{i}"))
            .collect();
        assert_eq!(names(&inc), want);
        assert!(names(&by_kind("linear")).is_empty());
        // children_mut sees the same lists, and changes reach the layer.
        let mut r = by_kind("residual");
        let before: Vec<usize> = r.children().iter().map(|c| c.1.len()).collect();
        for (_, list) in r.children_mut() {
            list.push(Layer::Relu);
        }
        let after: Vec<usize> = r.children().iter().map(|c| c.1.len()).collect();
        assert_eq!(after, before.iter().map(|n| n + 1).collect::<Vec<_>>());
    }

    #[test]
    fn any_looks_inside_blocks() {
        let all = every_kind();
        let res = all.iter().find(|l| l.kind() == "residual").unwrap();
        assert!(res.any(&|l| l.has_weight()));
        assert!(!Layer::Relu.any(&|l| l.has_weight()));
        assert!(Layer::Relu.any(&|l| l.is_activation()));
    }

    #[test]
    fn constructors_and_init() {
        let mut l = Layer::linear(7);
        assert_eq!(
            l,
            ModelSpec::from_toml("input = [3]\nlayers = [{ type = \"linear\", out = 7 }]")
                .unwrap()
                .layers[0]
        );
        *l.init_mut().unwrap() = Init::XavierUniform;
        assert!(matches!(
            l,
            Layer::Linear {
                init: Init::XavierUniform,
                ..
            }
        ));
        assert!(Layer::Relu.init_mut().is_none());
    }
}
