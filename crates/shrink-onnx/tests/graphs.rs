//! Hand-built graphs for what the PyTorch-made files do not show: every unsupported node
//! listed in one error, graphs that are not series-parallel refused, the input
//! normalisation folded exactly, limits and external data.

use prost::Message;
use shrink_format::Limits;
use shrink_onnx::proto::*;
use shrink_onnx::{import_bytes, OnnxError};

fn node(op: &str, name: &str, ins: &[&str], out: &str) -> NodeProto {
    NodeProto {
        input: ins.iter().map(|s| s.to_string()).collect(),
        output: vec![out.into()],
        name: name.into(),
        op_type: op.into(),
        ..Default::default()
    }
}

fn tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: data_type::FLOAT,
        name: name.into(),
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn value(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            dim_value: *d,
                            dim_param: d.is_none().then(|| "batch".into()),
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

/// A model with input `x` `[batch, 4]`, output `y`, and the given nodes/initializers.
fn model(nodes: Vec<NodeProto>, init: Vec<TensorProto>) -> Vec<u8> {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(GraphProto {
            node: nodes,
            initializer: init,
            input: vec![value("x", &[None, Some(4)])],
            output: vec![value("y", &[None, Some(4)])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn square_weights() -> Vec<TensorProto> {
    let eye: Vec<f32> = (0..16)
        .map(|i| if i % 5 == 0 { 1.0 } else { 0.5 })
        .collect();
    ["w1", "w2", "w3"]
        .iter()
        .map(|n| tensor(n, &[4, 4], &eye))
        .collect()
}

fn gemm(name: &str, x: &str, w: &str, out: &str) -> NodeProto {
    let mut n = node("Gemm", name, &[x, w], out);
    n.attribute.push(AttributeProto {
        name: "transB".into(),
        r#type: attr_type::INT,
        i: 1,
        ..Default::default()
    });
    n
}

#[test]
fn every_unsupported_node_is_listed_with_name_and_index() {
    let bytes = model(
        vec![
            gemm("fc1", "x", "w1", "a"),
            node("Erf", "erf_1", &["a"], "b"),
            node("Relu", "relu", &["b"], "c"),
            node("Resize", "up", &["c"], "d"),
            gemm("fc2", "d", "w2", "y"),
        ],
        square_weights(),
    );
    let e = import_bytes(&bytes, None, &Limits::DEFAULT).unwrap_err();
    match &e {
        OnnxError::Unsupported(list) => assert_eq!(list.len(), 2, "{e}"),
        _ => panic!("{e}"),
    }
    assert_eq!(
        e.to_string(),
        "unsupported: Erf \"erf_1\" (node 1); Resize \"up\" (node 3)"
    );
}

#[test]
fn residual_blocks_nest_and_crossing_edges_are_refused() {
    // y = fc3(relu(fc1(x)) + x) + fc2(x)... as two nested residuals: fine.
    let ok = model(
        vec![
            gemm("fc1", "x", "w1", "a"),
            node("Relu", "r", &["a"], "b"),
            node("Add", "add1", &["b", "x"], "c"),
            gemm("fc2", "c", "w2", "d"),
            node("Add", "add2", &["d", "c"], "y"),
        ],
        square_weights(),
    );
    let m = import_bytes(&ok, None, &Limits::DEFAULT).unwrap();
    let toml = m.spec.to_toml();
    assert_eq!(toml.matches("type = \"residual\"").count(), 2, "{toml}");
    let names: Vec<&str> = m.weights.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["layers.0.body.0.weight", "layers.1.body.0.weight"]);
    // `a` is used inside the first block and again after it: not series-parallel.
    let crossing = model(
        vec![
            gemm("fc1", "x", "w1", "a"),
            gemm("fc2", "a", "w2", "b"),
            gemm("fc3", "x", "w3", "c"),
            node("Add", "add1", &["b", "c"], "d"),
            node("Add", "add2", &["d", "a"], "y"),
        ],
        square_weights(),
    );
    let e = import_bytes(&crossing, None, &Limits::DEFAULT)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a chain of residual"), "{e}");
}

#[test]
fn constant_sub_and_div_on_the_input_become_the_normalisation() {
    let bytes = model(
        vec![
            node("Sub", "sub", &["x", "mean"], "a"),
            node("Div", "div", &["a", "std"], "b"),
            gemm("fc1", "b", "w1", "y"),
        ],
        vec![
            tensor("mean", &[4], &[0.1307, 0.2, -0.5, 3.0]),
            tensor("std", &[4], &[0.3081, 2.0, 0.25, 7.5]),
            square_weights().remove(0),
        ],
    );
    let m = import_bytes(&bytes, None, &Limits::DEFAULT).unwrap();
    let n = m.spec.normalize.unwrap();
    assert_eq!(n.mean, [0.1307, 0.2, -0.5, 3.0]);
    assert_eq!(n.std, [0.3081, 2.0, 0.25, 7.5]);
    assert_eq!(m.spec.layers.len(), 1);
    // The same constant between two layers (not on the input, not after a layer it
    // folds into) is refused.
    let bytes = model(
        vec![
            gemm("fc1", "x", "w1", "a"),
            node("Relu", "r", &["a"], "b"),
            node("Sub", "sub", &["b", "mean"], "y"),
        ],
        vec![tensor("mean", &[4], &[1.0; 4]), square_weights().remove(0)],
    );
    let e = import_bytes(&bytes, None, &Limits::DEFAULT)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("unsupported: Sub \"sub\" (node 2)"), "{e}");
}

#[test]
fn tensors_beyond_the_limits_and_missing_external_data_are_refused() {
    let small = Limits {
        max_params: 10,
        ..Limits::DEFAULT
    };
    let bytes = model(vec![gemm("fc1", "x", "w1", "y")], square_weights());
    let e = import_bytes(&bytes, None, &small).unwrap_err().to_string();
    assert!(e.contains("max_params"), "{e}");
    let mut w = tensor("w1", &[4, 4], &[]);
    w.raw_data.clear();
    w.data_location = 1;
    w.external_data = vec![StringStringEntryProto {
        key: "location".into(),
        value: "weights.bin".into(),
    }];
    let bytes = model(vec![gemm("fc1", "x", "w1", "y")], vec![w.clone()]);
    let e = import_bytes(&bytes, None, &Limits::DEFAULT)
        .unwrap_err()
        .to_string();
    assert!(e.contains("external data"), "{e}");
    let dir = std::env::temp_dir();
    let e = import_bytes(&bytes, Some(&dir), &Limits::DEFAULT)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("weights.bin") && e.contains("cannot be opened"),
        "{e}"
    );
    w.external_data[0].value = "../../etc/passwd".into();
    let bytes = model(vec![gemm("fc1", "x", "w1", "y")], vec![w]);
    let e = import_bytes(&bytes, Some(&dir), &Limits::DEFAULT)
        .unwrap_err()
        .to_string();
    assert!(e.contains("outside the model's folder"), "{e}");
}
