//! Arbitrary text into the spec parser and shape inference: `from_toml_limited`,
//! `infer` and `check` must return, never panic, overflow, recurse without bound or
//! allocate for what the text declares. Whatever `check` accepts must stay within the
//! limits it was given, agree with `infer` and `param_count`, and survive a TOML round
//! trip with the same shapes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shrink_format::spec::ModelSpec;
use shrink_format::Limits;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::DEFAULT;
    let Ok(spec) = ModelSpec::from_toml_limited(text, &limits) else {
        return;
    };
    let inferred = spec.infer();
    let Ok(checked) = spec.check(&limits) else {
        return;
    };
    let (infos, output) = inferred.expect("check accepted a spec infer rejects");
    assert_eq!(infos, checked.infos);
    assert_eq!(output, checked.output);
    let c = checked.cost;
    assert!(c.params <= limits.max_params);
    assert!(c.macs <= limits.max_macs);
    assert!(c.max_activation <= limits.max_activation);
    assert!(c.inference_bytes(1) <= limits.max_batch_bytes);
    assert!(c.layers <= limits.max_layers);
    assert_eq!(spec.param_count().unwrap() as u64, c.params);
    assert!(c.max_inference_batch(&limits) >= 1);
    // Written back and read again, the network has the same shapes and cost.
    let again = ModelSpec::from_toml(&spec.to_toml()).expect("a checked spec re-reads");
    let back = again.check(&limits).expect("a checked spec re-checks");
    assert_eq!(back.output, checked.output);
    assert_eq!(back.cost, checked.cost);
});
