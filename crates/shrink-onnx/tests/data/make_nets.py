#!/usr/bin/env python3
"""Builds the committed ONNX test networks and their reference outputs.

Every network here is small, has seeded random weights (batch-norm layers get
non-trivial running statistics and affine parameters, kept in eval mode) and is
exported with PyTorch's `torch.onnx.export`. Beside each `<net>.onnx` goes a
`<net>.json` holding a reference batch:

    {"input_shape": [2, 1, 28, 28],   # with the batch dimension
     "input":  [...],                 # flat f32, row-major
     "output_shape": [2, 10],
     "output": [...],                 # ONNX Runtime's outputs, flat f32
     "ops": ["Conv", ...],            # the graph's operator types, in node order
     "torch_max_abs_diff": 1.2e-7,    # ONNX Runtime vs PyTorch on the same input
     "notes": "..."}

ONNX Runtime computes `output`; the script checks it against PyTorch's own
outputs (max |difference| ≤ 1e-4, else it stops) and records the difference.

Networks that shrink must refuse (an LSTM, a Resize/Upsample, a truncated file,
external data whose file is missing, a graph whose image size is dynamic) get a
`<net>.json` with `"refuse": true` and `"mentions"`: strings the one error line
must contain (the unsupported op type and node name; the missing file), maybe
empty.

Run it from anywhere (it writes next to itself):

    /root/.cache/torch-venv/bin/python crates/shrink-onnx/tests/data/make_nets.py

Needs torch, onnx, onnxruntime, numpy. CI does not run it: the files it writes
are committed. Running it again rewrites them; the ONNX bytes can differ between
torch versions, the reference outputs follow the file they sit beside.
"""

import json
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17
BATCH = 2
TOL = 1e-4


# ---------------------------------------------------------------------------
# helpers

def seeded(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)


def randomize_bn(model, seed):
    """Non-trivial running statistics and affine parameters for every batch norm."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) * 1.0 + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.2)


def ops_of(path):
    return [n.op_type for n in onnx.load(path).graph.node]


def ort_run(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: x})[0]


def write_json(name, obj):
    path = os.path.join(HERE, name + ".json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, path)


def reference(name, x, torch_out, notes):
    """ONNX Runtime's outputs for `x`, checked against PyTorch's, to `<name>.json`."""
    path = os.path.join(HERE, name + ".onnx")
    onnx.checker.check_model(onnx.load(path))
    y = ort_run(path, x)
    diff = None
    if torch_out is not None:
        diff = float(np.max(np.abs(y - torch_out)))
        if not diff <= TOL:
            sys.exit(f"{name}: ONNX Runtime and PyTorch differ by {diff}")
    write_json(name, {
        "input_shape": list(x.shape),
        "input": [float(v) for v in x.astype(np.float32).ravel()],
        "output_shape": list(y.shape),
        "output": [float(v) for v in y.astype(np.float32).ravel()],
        "ops": ops_of(path),
        "torch_max_abs_diff": diff,
        "notes": notes,
    })
    size = os.path.getsize(path)
    print(f"{name:22s} {size:8d} B  max|ort-torch|={diff}  ops={sorted(set(ops_of(path)))}")


def export(name, model, in_shape, notes, seed, x=None, dynamo=False, bn_nodes=True):
    """Exports `model` (eval mode) with a dynamic batch and writes its reference."""
    model.eval()
    randomize_bn(model, seed + 1000)
    if x is None:
        g = torch.Generator().manual_seed(seed + 7)
        x = torch.randn(BATCH, *in_shape, generator=g)
    path = os.path.join(HERE, name + ".onnx")
    tmp = path + ".tmp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            if dynamo:
                batch = torch.export.Dim("batch", min=1, max=1024)
                torch.onnx.export(model, (x,), tmp, dynamo=True, opset_version=18,
                                  input_names=["input"], output_names=["logits"],
                                  dynamic_shapes=({0: batch},), verbose=False)
            else:
                # PRESERVE keeps BatchNormalization nodes (EVAL would fold them into
                # the convolutions); the model is in eval mode, so they export as
                # inference batch norms.
                mode = torch.onnx.TrainingMode.PRESERVE if bn_nodes else torch.onnx.TrainingMode.EVAL
                torch.onnx.export(model, (x,), tmp, dynamo=False, opset_version=OPSET,
                                  training=mode, input_names=["input"],
                                  output_names=["logits"],
                                  dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
            torch_out = model(x).numpy()
    # Weights inside the one file (the dynamo exporter may write external data).
    m = onnx.load(tmp)
    onnx.save_model(m, tmp, save_as_external_data=False)
    for f in os.listdir(HERE):
        if f.startswith(name + ".onnx.tmp") and f != name + ".onnx.tmp":
            os.remove(os.path.join(HERE, f))
    os.replace(tmp, path)
    reference(name, x.numpy(), torch_out, notes)


def lstm_node(name, op="LSTM"):
    """The name of the first `op` node in `<name>.onnx`."""
    for n in onnx.load(os.path.join(HERE, name + ".onnx")).graph.node:
        if n.op_type == op:
            return n.name
    sys.exit(f"{name}: no {op} node")


def refusal(name, mentions, notes, ops=None):
    obj = {"refuse": True, "mentions": mentions, "notes": notes}
    if ops is not None:
        obj["ops"] = ops
    write_json(name, obj)
    print(f"{name:22s} {os.path.getsize(os.path.join(HERE, name + '.onnx')):8d} B  refused: {mentions}")


# ---------------------------------------------------------------------------
# the networks

class Mlp(nn.Module):
    """Flatten (ONNX Flatten), Gemm, ReLU, Dropout (dropped in eval export)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.5),
                                 nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10))

    def forward(self, x):
        return self.net(x)


class LeNet5(nn.Module):
    """LeNet-5 as PyTorch tutorials write it, with `x.view(x.size(0), -1)`."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                       nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.short(x))


class ResNet(nn.Module):
    """CIFAR-style ResNet (He et al.): 3×32×32, identity and projection shortcuts."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.layers = nn.Sequential(BasicBlock(8, 8, 1), BasicBlock(8, 16, 2), BasicBlock(16, 16, 1),
                                    BasicBlock(16, 24, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        x = self.pool(self.layers(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden), nn.ReLU6(),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2-style (Sandler et al.): depthwise convs, ReLU6, inverted residuals."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
            InvertedResidual(8, 8, 1, 1),
            InvertedResidual(8, 12, 2, 4),
            InvertedResidual(12, 12, 1, 4),
            InvertedResidual(12, 16, 2, 4),
            nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6())
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(32, 10))

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


class InceptionBlock(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, cp):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(cin, c1, 1), nn.ReLU())
        self.b3 = nn.Sequential(nn.Conv2d(cin, c3r, 1), nn.ReLU(), nn.Conv2d(c3r, c3, 3, padding=1), nn.ReLU())
        self.b5 = nn.Sequential(nn.Conv2d(cin, c5r, 1), nn.ReLU(), nn.Conv2d(c5r, c5, 5, padding=2), nn.ReLU())
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, cp, 1), nn.ReLU())

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)


class Inception(nn.Module):
    """Inception-style (Szegedy et al.): branches concatenated along channels."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.inc1 = InceptionBlock(16, 8, 6, 8, 4, 4, 4)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.inc2 = InceptionBlock(24, 8, 8, 12, 4, 6, 6)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.inc2(self.pool(self.inc1(self.stem(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class Deconv(nn.Module):
    """ConvTranspose2d (stride 2, padding 1, output padding 1) between convs."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, 2, 1)
        self.d1 = nn.ConvTranspose2d(4, 3, 3, 2, 1, output_padding=1)
        self.fc = nn.Linear(3 * 8 * 8, 5)

    def forward(self, x):
        x = F.relu(self.d1(F.relu(self.c1(x))))
        return self.fc(x.flatten(1))


class Activations(nn.Module):
    """LeakyRelu, PRelu (per channel and per feature), Elu, Sigmoid, Tanh, BatchNorm1d."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3, padding=1)
        self.a1 = nn.LeakyReLU(0.2)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.a2 = nn.PReLU(4)
        self.c3 = nn.Conv2d(4, 4, 3, padding=1)
        self.a3 = nn.ELU(0.7)
        self.fc1 = nn.Linear(4 * 6 * 6, 16)
        self.bn = nn.BatchNorm1d(16)
        self.a4 = nn.PReLU(16)
        self.fc2 = nn.Linear(16, 12)
        self.fc3 = nn.Linear(12, 8)
        self.fc4 = nn.Linear(8, 4)
        with torch.no_grad():
            self.a2.weight.copy_(torch.linspace(-0.3, 0.4, 4))
            self.a4.weight.copy_(torch.linspace(0.05, 0.5, 16))

    def forward(self, x):
        x = self.a3(self.c3(self.a2(self.c2(self.a1(self.c1(x))))))
        x = self.a4(self.bn(self.fc1(torch.flatten(x, 1))))
        x = torch.sigmoid(self.fc2(x))
        x = torch.tanh(self.fc3(x))
        return self.fc4(x)


class HardActs(nn.Module):
    """HardSwish, HardSigmoid, ReLU6 (Clip) on convs; clamp(-1, 1) (Clip min/max)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, padding=1)
        self.c2 = nn.Conv2d(6, 6, 3, padding=1, groups=3)
        self.c3 = nn.Conv2d(6, 4, 1)
        self.fc = nn.Linear(4 * 8 * 8, 6)

    def forward(self, x):
        x = F.hardswish(self.c1(x) * 3.0)
        x = F.hardsigmoid(self.c2(x) * 3.0)
        x = torch.clamp(self.c3(x), -1.0, 1.0)
        return self.fc(x.flatten(1))


class Pools(nn.Module):
    """AveragePool (plain; padded with and without count_include_pad), MaxPool with
    padding, GlobalAveragePool."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3)
        self.p1 = nn.AvgPool2d(2)
        self.c2 = nn.Conv2d(6, 6, 3, padding=1)
        self.p2 = nn.AvgPool2d(3, 2, 1, count_include_pad=False)
        self.c3 = nn.Conv2d(6, 8, 3, padding=1)
        self.p3 = nn.AvgPool2d(3, 1, 1, count_include_pad=True)
        self.p4 = nn.MaxPool2d(3, 2, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.p2(F.relu(self.c2(self.p1(F.relu(self.c1(x))))))
        x = self.p4(self.p3(self.c3(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class AsymPad(nn.Module):
    """TensorFlow-style 'same' padding written as ZeroPad2d((left, right, top, bottom))
    before a stride-2 conv (exports as Pad then Conv)."""

    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.c1 = nn.Conv2d(2, 4, 3, 2)
        self.pad2 = nn.ZeroPad2d((1, 2, 1, 2))
        self.c2 = nn.Conv2d(4, 4, 4)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        x = F.relu(self.c1(self.pad(x)))
        x = F.relu(self.c2(self.pad2(x)))
        return self.fc(x.flatten(1))


class SoftmaxHead(nn.Module):
    """A trailing Softmax: shrink drops it (its models output logits)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        return F.softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


class LogSoftmaxHead(SoftmaxHead):
    def forward(self, x):
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


class Normalized(nn.Module):
    """Constant per-channel Sub and Div on the input (the spec's normalisation),
    then a conv net; a constant Mul too in `Scaled`."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.49, 0.48, 0.45]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.25, 0.24, 0.26]).view(1, 3, 1, 1))
        self.c1 = nn.Conv2d(3, 4, 3, 2, 1)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        x = (x - self.mean) / self.std
        return self.fc(F.relu(self.c1(x)).flatten(1))


class Scaled(nn.Module):
    """`x * (1/255)` on the raw input (a constant Mul), then an MLP."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        x = x * (1.0 / 255.0)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class MatMulAdd(nn.Module):
    """`x @ W + b` written by hand: MatMul then Add, not Gemm."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(10, 8) * 0.3)
        self.b1 = nn.Parameter(torch.randn(8) * 0.1)
        self.w2 = nn.Parameter(torch.randn(8, 4) * 0.3)
        self.b2 = nn.Parameter(torch.randn(4) * 0.1)

    def forward(self, x):
        return torch.relu(x @ self.w1 + self.b1) @ self.w2 + self.b2


class Lstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 8, batch_first=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y[:, -1])


class Upsample(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 2, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.fc = nn.Linear(2 * 8 * 8, 3)

    def forward(self, x):
        return self.fc(self.up(F.relu(self.c1(x))).flatten(1))


# ---------------------------------------------------------------------------
# graphs written with the ONNX helper: things PyTorch does not emit directly

def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def conv_ref(x, w, b, pads, stride, group=1):
    """PyTorch's conv after an explicit zero pad: pads = [top, left, bottom, right]."""
    t, l, bo, r = pads
    xt = F.pad(torch.from_numpy(x), (l, r, t, bo))
    return F.conv2d(xt, torch.from_numpy(w), torch.from_numpy(b), stride=stride, groups=group).numpy()


def hand_asym_conv(seed):
    """Conv and MaxPool with asymmetric `pads` attributes (what tf2onnx writes for
    TensorFlow's 'SAME' padding), plus explicit Identity and Dropout nodes."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.4, (4, 2, 3, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.1, 4).astype(np.float32)
    w2 = rng.normal(0, 0.2, (3, 4 * 4 * 4)).astype(np.float32)
    b2 = rng.normal(0, 0.1, 3).astype(np.float32)
    nodes = [
        helper.make_node("Identity", ["input"], ["x0"], name="id_in"),
        helper.make_node("Conv", ["x0", "w1", "b1"], ["c1"], name="conv_same", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[0, 0, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool_same", kernel_shape=[2, 2],
                         strides=[2, 2], pads=[0, 0, 1, 1]),
        helper.make_node("Dropout", ["p1"], ["d1"], name="drop"),
        helper.make_node("Flatten", ["d1"], ["f1"], name="flat", axis=1),
        helper.make_node("Gemm", ["f1", "w2", "b2"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "asym_conv",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 2, 15, 15])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        [init("w1", w1), init("b1", b1), init("w2", w2), init("b2", b2)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="make_nets.py")
    path = os.path.join(HERE, "asym_conv.onnx")
    onnx.save(model, path)
    x = rng.normal(0, 1, (BATCH, 2, 15, 15)).astype(np.float32)
    # PyTorch: pad bottom/right by one, conv stride 2 → 8×8; max pool 2 with the
    # bottom/right padded by -inf → 4×4.
    c = torch.from_numpy(conv_ref(x, w1, b1, [0, 0, 1, 1], 2)).relu()
    p = F.max_pool2d(F.pad(c, (0, 1, 0, 1), value=float("-inf")), 2)
    y = F.linear(p.flatten(1), torch.from_numpy(w2), torch.from_numpy(b2)).numpy()
    reference("asym_conv", x, y, "Conv pads=[0,0,1,1] stride 2 (15→8), MaxPool pads=[0,0,1,1] "
              "(8→4, padding is -inf), explicit Identity and Dropout nodes, Flatten, Gemm")


def external_missing(seed):
    """A model whose weights live in an external-data file that is not there."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.3, (4, 300)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["input", "w"], ["logits"], name="fc", transB=1)], "ext",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 300])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])],
        [init("w", w)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    path = os.path.join(HERE, "external_missing.onnx")
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="external_missing.weights", size_threshold=0)
    os.remove(os.path.join(HERE, "external_missing.weights"))
    refusal("external_missing", ["external_missing.weights"],
            "weights stored as external data in external_missing.weights, which is absent")


def dynamic_hw():
    """A conv net whose input height and width are symbolic: no fixed shape to map."""
    rng = np.random.default_rng(5)
    w = rng.normal(0, 0.3, (2, 1, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["c"], name="conv", kernel_shape=[3, 3]),
         helper.make_node("GlobalAveragePool", ["c"], ["g"], name="gap"),
         helper.make_node("Flatten", ["g"], ["logits"], name="flat")], "dyn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, "height", "width"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        [init("w", w)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.save(model, os.path.join(HERE, "dynamic_hw.onnx"))
    refusal("dynamic_hw", [], "input shape [batch, 1, height, width]: height and width "
            "are symbolic, so no layer shapes can be fixed")


# ---------------------------------------------------------------------------

def main():
    print(f"torch {torch.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}")
    seeded(1)
    export("mlp", Mlp(), (1, 8, 8), "Flatten, Gemm, ReLU; Dropout in eval mode (not exported)", 1)
    seeded(2)
    export("lenet5", LeNet5(), (1, 28, 28),
           "LeNet-5 with x.view(x.size(0), -1): Shape/Gather/Unsqueeze/Concat/Reshape", 2)
    seeded(3)
    export("resnet", ResNet(), (3, 32, 32),
           "CIFAR-style ResNet: BatchNormalization nodes kept (TrainingMode.PRESERVE in eval "
           "mode), identity and projection (1x1 conv + BN, stride 2) shortcuts, "
           "GlobalAveragePool", 3)
    seeded(4)
    export("mobilenetv2", MobileNetV2(), (3, 32, 32),
           "MobileNetV2-style: depthwise convs (group = channels), ReLU6 as Clip(0, 6), "
           "inverted residuals with linear bottlenecks", 4)
    seeded(5)
    export("inception", Inception(), (3, 32, 32),
           "Inception-style: four branches (1x1, 1x1-3x3, 1x1-5x5, maxpool-1x1) concatenated "
           "on channels, twice", 5)
    seeded(6)
    export("deconv", Deconv(), (1, 8, 8), "ConvTranspose stride 2, pads 1, output_padding 1", 6)
    seeded(7)
    export("activations", Activations(), (2, 6, 6),
           "LeakyRelu 0.2, PRelu per channel (slopes [C,1,1], some negative) and per feature, "
           "Elu 0.7, BatchNormalization on features, Sigmoid, Tanh", 7)
    seeded(8)
    export("hard_acts", HardActs(), (3, 8, 8),
           "HardSwish, HardSigmoid (alpha 1/6, beta 0.5), Clip(-1, 1), a grouped conv "
           "(group 3); constant Mul by 3 before each hard activation", 8)
    seeded(9)
    export("pools", Pools(), (3, 16, 16),
           "AveragePool 2; AveragePool 3/2 pads 1 count_include_pad=0; AveragePool 3/1 pads 1 "
           "count_include_pad=1; MaxPool 3/2 pads 1; GlobalAveragePool", 9)
    seeded(10)
    export("asym_pad", AsymPad(), (2, 9, 9),
           "ZeroPad2d((0,1,0,1)) and ((1,2,1,2)) before convs: Pad (constant 0, pads as an "
           "input) then Conv", 10)
    seeded(10)
    export("asym_pad_dynamo", AsymPad(), (2, 9, 9),
           "the same net through the dynamo exporter (opset 18): the pads are folded into "
           "the Conv nodes' asymmetric `pads` attributes", 10, dynamo=True)
    seeded(11)
    export("softmax", SoftmaxHead(), (12,), "trailing Softmax: reference output is the "
           "probabilities; without it the logits", 11)
    seeded(12)
    export("log_softmax", LogSoftmaxHead(), (12,), "trailing LogSoftmax", 12)
    seeded(13)
    g = torch.Generator().manual_seed(113)
    export("normalized", Normalized(), (3, 16, 16),
           "constant per-channel Sub then Div on the input ([1,3,1,1] tensors)", 13,
           x=torch.rand(BATCH, 3, 16, 16, generator=g))
    seeded(14)
    g = torch.Generator().manual_seed(114)
    export("scaled", Scaled(), (1, 4, 4), "constant Mul by 1/255 on the raw input", 14,
           x=torch.randint(0, 256, (BATCH, 1, 4, 4), generator=g).float())
    seeded(15)
    export("matmul_add", MatMulAdd(), (10,), "MatMul + Add instead of Gemm", 15)
    seeded(16)
    export("lenet5_dynamo", LeNet5(), (1, 28, 28),
           "LeNet-5 through the dynamo exporter (torch.onnx.export(dynamo=True), opset 18, "
           "PyTorch's default): the view becomes one Reshape", 16, dynamo=True)
    seeded(17)
    export("mobilenetv2_dynamo", MobileNetV2(), (3, 32, 32),
           "MobileNetV2-style through the dynamo exporter (opset 18)", 17, dynamo=True)
    seeded(18)
    export("resnet_folded", ResNet(), (3, 32, 32),
           "the ResNet exported in TrainingMode.EVAL: batch norms folded into the convs "
           "(which then have biases)", 18, bn_nodes=False)
    hand_asym_conv(19)

    # Refused: unsupported operators, a truncated file, missing external data, dynamic H/W.
    seeded(20)
    export("lstm", Lstm(), (5, 4), "an LSTM: must be refused", 20)
    refusal("lstm", ["LSTM", lstm_node("lstm")], "an LSTM: must be refused, naming the node",
            ops_of(os.path.join(HERE, "lstm.onnx")))
    seeded(21)
    export("upsample", Upsample(), (1, 4, 4), "nn.Upsample: Resize must be refused", 21)
    refusal("upsample", ["Resize", lstm_node("upsample", "Resize")],
            "nn.Upsample: Resize must be refused, naming the node",
            ops_of(os.path.join(HERE, "upsample.onnx")))
    data = open(os.path.join(HERE, "lenet5.onnx"), "rb").read()
    with open(os.path.join(HERE, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])
    refusal("truncated", [], "the first half of lenet5.onnx: one clear error, nothing written")
    external_missing(22)
    dynamic_hw()


if __name__ == "__main__":
    main()
