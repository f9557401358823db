//! Tests of MUNGE, RANDOM and the writers (the neighbour search has its own,
//! in `nearest.rs`).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::*;
use crate::table::ColumnSchema;
use crate::{load, stratified_split_indices, LoadOptions};

/// `n` random "images" of shape `[1, 4, 5]` with pixels `k / 255`.
fn images(n: usize, seed: u64) -> Dataset {
    let mut rng = crate::seeded_rng(seed);
    let x: Vec<f32> = (0..n * 20)
        .map(|_| below(&mut rng, 256) as f32 / 255.0)
        .collect();
    let y = (0..n as u32).map(|i| i % 3).collect();
    Dataset::new(
        vec![1, 4, 5],
        x,
        y,
        3,
        vec!["a".into(), "b".into(), "c".into()],
    )
    .unwrap()
}

/// A table: `age` numeric, `color` 3 levels, the label, `size` numeric,
/// `kind` 2 levels — the label in the middle of the header.
fn table(n: usize, seed: u64) -> (Dataset, TableSchema) {
    let numeric = |min: f64, max: f64| ColumnKind::Numeric {
        min,
        max,
        mean: 0.0,
        std: 0.0,
    };
    let col = |name: &str, index, kind, offset, width| ColumnSchema {
        name: name.into(),
        index,
        kind,
        offset,
        width,
        missing: 0,
    };
    let levels = |v: &[&str]| ColumnKind::Categorical {
        levels: v.iter().map(|s| s.to_string()).collect(),
    };
    let schema = TableSchema {
        header: ["age", "color", "label", "size", "kind"]
            .map(String::from)
            .to_vec(),
        columns: vec![
            col("age", 0, numeric(18.0, 90.0), 0, 1),
            col("color", 1, levels(&["blue", "green", "red"]), 1, 3),
            col("size", 3, numeric(-2.0, 2.0), 4, 1),
            col("kind", 4, levels(&["x", "y, z"]), 5, 2),
        ],
        label_column: "label".into(),
        label_index: 2,
        width: 7,
        class_names: vec![],
    };
    let mut rng = crate::seeded_rng(seed);
    let mut x = Vec::with_capacity(n * 7);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let age = 18 + below(&mut rng, 73) as u32;
        let color = below(&mut rng, 10); // blue 50 %, green 30 %, red 20 %
        let color = [0, 0, 0, 0, 0, 1, 1, 1, 2, 2][color as usize];
        let kind = (age > 50) as usize;
        let size = (age as f32 - 54.0) / 20.0 + (color as f32 - 1.0) * 0.1;
        let mut row = [0f32; 7];
        row[0] = age as f32;
        row[1 + color] = 1.0;
        row[4] = size;
        row[5 + kind] = 1.0;
        x.extend_from_slice(&row);
        y.push((color == 2) as u32);
    }
    let ds = Dataset::new(vec![7], x, y, 2, vec!["no".into(), "yes".into()]).unwrap();
    (ds, schema)
}

fn opts(size: usize, seed: u64) -> MungeOptions {
    MungeOptions {
        seed,
        ..MungeOptions::new(size)
    }
}

fn bits(ds: &Dataset) -> Vec<u32> {
    ds.x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn munge_size_shape_labels_and_determinism() {
    let ds = images(50, 1);
    let out = munge(&ds, None, &opts(130, 7), None).unwrap();
    out.validate().unwrap();
    assert_eq!(out.len(), 130);
    assert_eq!(out.shape, ds.shape);
    assert_eq!((out.classes, &out.class_names), (3, &ds.class_names));
    assert!(out.y.iter().all(|&l| l == 0));
    // Same seed, same bytes, whatever the thread count; another seed differs.
    let again = munge_threads(&ds, None, &opts(130, 7), 1, None).unwrap();
    assert_eq!(bits(&out), bits(&again));
    let more = munge_threads(&ds, None, &opts(130, 7), 5, None).unwrap();
    assert_eq!(bits(&out), bits(&more));
    let other = munge(&ds, None, &opts(130, 8), None).unwrap();
    assert_ne!(bits(&out), bits(&other));
    // Passes do not compound: pass 2 is as close to the data as pass 1.
    let el = ds.example_len();
    let dist = |pass: usize| -> f64 {
        (0..50)
            .map(|i| {
                nearest::exact_sq_dist(
                    &out.x[(pass * 50 + i) * el..(pass * 50 + i + 1) * el],
                    ds.example(i),
                )
            })
            .sum()
    };
    let (d0, d1) = (dist(0), dist(1));
    assert!(d0 > 0.0 && d1 < 2.0 * d0 && d0 < 2.0 * d1, "{d0} {d1}");
    assert!(munge(&ds, None, &opts(0, 7), None).unwrap().is_empty());
}

#[test]
fn munge_with_p_zero_repeats_the_data() {
    let ds = images(20, 2);
    let o = MungeOptions {
        p: 0.0,
        ..opts(45, 3)
    };
    let out = munge(&ds, None, &o, None).unwrap();
    let idx: Vec<usize> = (0..45).map(|i| i % 20).collect();
    assert_eq!(out.x, ds.subset(&idx).x);
    let (t, schema) = table(30, 4);
    let out = munge(&t, Some(&schema), &o, None).unwrap();
    let idx: Vec<usize> = (0..45).map(|i| i % 30).collect();
    assert_eq!(out.x, t.subset(&idx).x);
}

#[test]
fn one_step_draws_around_the_neighbours_old_values() {
    // Examples 0 and 1 (mutual neighbours); example 1's step is skipped by
    // making it its own neighbour, so each pass is exactly one step.
    let el = 3;
    let data = [0.4f32, 0.3, 1.0, 0.6, 0.3, 0.0];
    let attrs = [
        Attribute::Continuous {
            feature: 0,
            lo: 0.0,
            hi: 1.0,
        },
        Attribute::Continuous {
            feature: 1,
            lo: 0.0,
            hi: 1.0,
        },
        Attribute::Nominal {
            offset: 2,
            width: 1,
        },
    ];
    let o = MungeOptions {
        p: 1.0,
        s: 2.0,
        ..MungeOptions::new(0)
    };
    let passes = 4000;
    let (mut e0, mut e1) = (Vec::new(), Vec::new());
    for pass in 0..passes {
        let mut t = data.to_vec();
        munge_pass(&mut t, el, &[1, 1], &attrs, &o, pass);
        // Equal values (feature 1) stay; the nominal attribute is swapped.
        assert_eq!((t[1], t[4]), (0.3, 0.3));
        assert_eq!((t[2], t[5]), (0.0, 1.0));
        e0.push(t[0] as f64);
        e1.push(t[3] as f64);
    }
    // e_a ~ N(e'_a, sd), e'_a ~ N(e_a, sd), sd = |0.4 - 0.6| / 2 = 0.1.
    let stats = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64;
        (m, var.sqrt())
    };
    let ((m0, s0), (m1, s1)) = (stats(&e0), stats(&e1));
    assert!(
        (m0 - 0.6).abs() < 0.01 && (s0 - 0.1).abs() < 0.01,
        "{m0} {s0}"
    );
    assert!(
        (m1 - 0.4).abs() < 0.01 && (s1 - 0.1).abs() < 0.01,
        "{m1} {s1}"
    );
    // With p = 0.5 about half the attributes move.
    let o = MungeOptions { p: 0.5, ..o };
    let swapped = (0..passes)
        .filter(|&pass| {
            let mut t = data.to_vec();
            munge_pass(&mut t, el, &[1, 1], &attrs, &o, pass);
            t[2] == 0.0
        })
        .count();
    assert!((1800..2200).contains(&swapped), "{swapped}");
}

#[test]
fn a_pass_modifies_both_examples_in_order() {
    // A = 0.0 and B = 0.1 are mutual neighbours, C = 1.0 has B. With p = 1
    // and a huge s the jitter vanishes and every step is a swap: step 0
    // swaps A and B, step 1 swaps them back, step 2 swaps B's slot with C.
    let ds = Dataset::new(
        vec![1, 1, 1],
        vec![0.0, 0.1, 1.0],
        vec![0; 3],
        1,
        vec!["0".into()],
    )
    .unwrap();
    assert_eq!(nearest_neighbours(&ds.x, 3, 1, None), vec![1, 0, 1]);
    let o = MungeOptions {
        p: 1.0,
        s: 1e12,
        ..opts(3, 5)
    };
    let out = munge(&ds, None, &o, None).unwrap();
    let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
    assert!(
        close(out.x[0], 0.0) && close(out.x[1], 1.0) && close(out.x[2], 0.1),
        "{:?}",
        out.x
    );
}

#[test]
fn munged_tables_keep_valid_one_hot_groups_and_ranges() {
    let (t, schema) = table(300, 6);
    let o = MungeOptions {
        p: 0.8,
        s: 0.5, // wide jitter, so clamping matters
        ..opts(1000, 1)
    };
    let out = munge(&t, Some(&schema), &o, None).unwrap();
    assert_eq!(out.len(), 1000);
    let (mut changed, mut at_bound) = (0, 0);
    for i in 0..out.len() {
        let r = out.example(i);
        for (lo, hi) in [(1, 4), (5, 7)] {
            let g = &r[lo..hi];
            assert_eq!(g.iter().filter(|&&v| v == 1.0).count(), 1, "{r:?}");
            assert!(g.iter().all(|&v| v == 0.0 || v == 1.0), "{r:?}");
        }
        assert!((18.0..=90.0).contains(&r[0]), "{r:?}");
        let src = t.example(i % 300);
        changed += (r[0] != src[0]) as usize;
        at_bound += (r[0] == 18.0 || r[0] == 90.0) as usize;
    }
    assert!(changed > 200, "{changed}"); // neighbours often share the (integer) age
    assert!(at_bound > 0);
    // The joint structure survives: `kind` (age > 50) still tracks age for
    // most examples (RANDOM would give about 50 %).
    let agree = |d: &Dataset| {
        (0..d.len())
            .filter(|&i| (d.example(i)[0] > 50.0) == (d.example(i)[6] == 1.0))
            .count() as f64
            / d.len() as f64
    };
    let rnd = random_marginals(&t, Some(&schema), 1000, 1).unwrap();
    assert!(agree(&out) > 0.75, "{}", agree(&out));
    assert!(agree(&rnd) < 0.65, "{}", agree(&rnd));
}

#[test]
fn munged_images_stay_in_unit_range() {
    let ds = images(200, 9);
    let o = MungeOptions {
        p: 1.0,
        s: 0.25,
        ..opts(400, 2)
    };
    let out = munge(&ds, None, &o, None).unwrap();
    assert!(out.x.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(out.x.contains(&0.0) && out.x.contains(&1.0));
    // Values not on the k/255 grid: continuous jitter happened.
    assert!(out
        .x
        .iter()
        .any(|&v| ((v * 255.0).round() - v * 255.0).abs() > 0.01));
}

#[test]
fn munge_on_bundled_mnist_images() {
    let src = load("mnist", &LoadOptions::default()).unwrap();
    let idx: Vec<usize> = (0..500).collect();
    let ds = src.train.subset(&idx);
    let calls = std::cell::Cell::new(0usize);
    let last = std::cell::Cell::new((0, 0));
    let progress = |d: usize, t: usize| {
        calls.set(calls.get() + 1);
        last.set((d, t));
    };
    let out = munge(&ds, None, &MungeOptions::new(1000), Some(&progress)).unwrap();
    assert_eq!(out.len(), 1000);
    assert!(out.x.iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(last.get(), (1500, 1500));
    assert!(calls.get() >= 3);
    // Each synthetic digit stays near its source digit (nearer than to a random other).
    let el = ds.example_len();
    let near = (0..500)
        .filter(|&i| {
            let o = &out.x[i * el..(i + 1) * el];
            nearest::exact_sq_dist(o, ds.example(i))
                < nearest::exact_sq_dist(o, ds.example((i + 250) % 500))
        })
        .count();
    assert!(near > 450, "{near}");
}

#[test]
fn munge_rejects_bad_input() {
    let ds = images(5, 1);
    let err = |ds: &Dataset, schema: Option<&TableSchema>, o: MungeOptions| {
        munge(ds, schema, &o, None).unwrap_err().to_string()
    };
    let e = err(
        &ds,
        None,
        MungeOptions {
            p: 1.5,
            ..opts(5, 0)
        },
    );
    assert!(e.contains("p must be in [0, 1], got 1.5"), "{e}");
    let e = err(
        &ds,
        None,
        MungeOptions {
            p: f64::NAN,
            ..opts(5, 0)
        },
    );
    assert!(e.contains("p must be"), "{e}");
    let e = err(
        &ds,
        None,
        MungeOptions {
            s: 0.0,
            ..opts(5, 0)
        },
    );
    assert!(e.contains("s must be positive"), "{e}");
    let mut normalised = ds.clone();
    normalised.x[23] = -0.5;
    let e = err(&normalised, None, opts(5, 0));
    assert!(
        e.contains("pixel intensities in [0, 1]") && e.contains("example 1 has -0.5"),
        "{e}"
    );
    let empty = ds.subset(&[]);
    let e = err(&empty, None, opts(5, 0));
    assert!(e.contains("at least one example"), "{e}");
    let (t, schema) = table(10, 1);
    let e = err(&ds, Some(&schema), opts(5, 0));
    assert!(
        e.contains("schema has 7 features") && e.contains("[1, 4, 5]"),
        "{e}"
    );
    let mut broken = schema.clone();
    broken.columns[1].width = 2;
    let e = err(&t, Some(&broken), opts(5, 0));
    assert!(e.contains("column \"color\""), "{e}");
    let mut inf = t.clone();
    inf.x[7] = f32::INFINITY;
    let e = err(&inf, Some(&schema), opts(5, 0));
    assert!(e.contains("column \"age\" of example 1 is inf"), "{e}");
    // Zero-width examples: nothing to munge or sample.
    let flat = Dataset::new(vec![0], vec![], vec![0; 3], 1, vec!["0".into()]).unwrap();
    assert_eq!(munge(&flat, None, &opts(4, 0), None).unwrap().len(), 4);
    assert_eq!(random_marginals(&flat, None, 4, 0).unwrap().len(), 4);
    // One example: its own neighbour, copied unchanged.
    let one = ds.subset(&[2]);
    let out = munge(&one, None, &opts(3, 0), None).unwrap();
    assert_eq!(out.x, one.subset(&[0, 0, 0]).x);
}

#[test]
fn mixed_distance_scales_numeric_and_counts_level_mismatches() {
    // Feature 0 spans 0..100 (scaled by 1/100), the group is one-hot.
    let (t, mut schema) = table(4, 0);
    schema.columns.truncate(2);
    schema.width = 4;
    schema.header.truncate(3);
    let x = vec![
        0.0, 1.0, 0.0, 0.0, //
        100.0, 1.0, 0.0, 0.0, //
        30.0, 0.0, 1.0, 0.0, // 0.3² + 1 = 1.09 from row 0
        31.0, 1.0, 0.0, 0.0, //
        60.0, 0.0, 1.0, 0.0, //
    ];
    let ds = Dataset::new(vec![4], x, vec![0; 5], t.classes, t.class_names.clone()).unwrap();
    let nn = nearest_neighbours_mixed(&ds, Some(&schema), None).unwrap();
    // Row 2 (30, green): row 3 (31, blue) is at 0.01² + 1, row 4 (60, green)
    // at 0.3² — the level mismatch weighs as much as the whole age range.
    // Unscaled, the 30-year gap would dominate the one-hot difference.
    assert_eq!(nn, vec![3, 3, 4, 0, 2]);
    assert_eq!(nearest_neighbours(&ds.x, 5, 4, None)[2], 3);
    let f = distance_features(&ds, &attributes(&ds, Some(&schema)).unwrap());
    let d = nearest::exact_sq_dist(&f[0..4], &f[8..12]);
    assert!((d - 1.09).abs() < 1e-6, "{d}");
}

#[test]
fn random_draws_each_attribute_from_its_marginal() {
    let (t, schema) = table(400, 3);
    let n = 20_000;
    let out = random_marginals(&t, Some(&schema), n, 11).unwrap();
    assert_eq!((out.len(), &out.shape), (n, &t.shape));
    assert!(out.y.iter().all(|&l| l == 0));
    let freq = |d: &Dataset| -> Vec<f64> {
        (1..4)
            .map(|k| {
                (0..d.len()).filter(|&i| d.example(i)[k] == 1.0).count() as f64 / d.len() as f64
            })
            .collect()
    };
    let (want, got) = (freq(&t), freq(&out));
    for (w, g) in want.iter().zip(&got) {
        assert!((w - g).abs() < 0.015, "{want:?} {got:?}");
    }
    let ages: HashSet<u32> = (0..t.len()).map(|i| t.example(i)[0].to_bits()).collect();
    let sizes: HashSet<u32> = (0..t.len()).map(|i| t.example(i)[4].to_bits()).collect();
    for i in 0..n {
        let r = out.example(i);
        assert!(ages.contains(&r[0].to_bits()) && sizes.contains(&r[4].to_bits()));
        assert_eq!(r[1..4].iter().sum::<f32>(), 1.0);
        assert_eq!(r[5..7].iter().sum::<f32>(), 1.0);
    }
    // Deterministic per seed, whatever the thread count.
    let again = random_marginals_threads(&t, Some(&schema), n, 11, 1).unwrap();
    assert_eq!(bits(&out), bits(&again));
    assert_ne!(
        bits(&out),
        bits(&random_marginals(&t, Some(&schema), n, 12).unwrap())
    );
    // Images: every pixel value comes from the same pixel of some image.
    let ds = images(30, 4);
    let out = random_marginals(&ds, None, 100, 0).unwrap();
    for i in 0..100 {
        for (k, v) in out.example(i).iter().enumerate() {
            assert!((0..30).any(|j| ds.example(j)[k] == *v));
        }
    }
    let e = random_marginals(&ds.subset(&[]), None, 3, 0).unwrap_err();
    assert!(e.to_string().contains("at least one example"), "{e}");
}

/// Rows of a CSV file as strings (header included).
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect()
}

fn no_temp_files(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp-"), "{name}");
    }
}

#[test]
fn write_csv_round_trips_through_load() {
    let dir = tempfile::tempdir().unwrap();
    let (t, schema) = table(200, 8);
    let mut syn = munge(&t, Some(&schema), &opts(300, 4), None).unwrap();
    // Give it labels, as a teacher would, so `load` can read it back.
    for (i, l) in syn.y.iter_mut().enumerate() {
        *l = (i % 2) as u32;
    }
    let p = dir.path().join("syn.csv");
    write_csv(&p, &syn, &schema, CsvLabels::ClassNames).unwrap();
    // The same rows as the sibling test file, so nothing is split off.
    std::fs::copy(&p, dir.path().join("syn.test.csv")).unwrap();
    let src = load(p.to_str().unwrap(), &LoadOptions::default()).unwrap();
    let back = src.schema.unwrap();
    assert_eq!(back.header, schema.header);
    assert_eq!(back.label_column, "label");
    assert_eq!(back.feature_names(), schema.feature_names());
    assert_eq!(bits(&src.train), bits(&syn));
    assert_eq!(src.train.y, syn.y);
    assert_eq!(src.train.class_names, vec!["no", "yes"]);
    let rows = csv_rows(&p);
    assert_eq!(rows[0], schema.header);
    assert!(rows[1..].iter().any(|r| r[4] == "y, z"), "quoted level");
    // Unlabelled: the label field is empty.
    write_csv(&p, &syn, &schema, CsvLabels::Empty).unwrap();
    let rows = csv_rows(&p);
    assert_eq!(rows.len(), 301);
    assert!(rows[1..].iter().all(|r| r[2].is_empty() && r.len() == 5));
    no_temp_files(dir.path());
    // A schema that does not fit, or an unwritable path: errors naming the problem.
    let e = write_csv(&p, &images(2, 0), &schema, CsvLabels::Empty).unwrap_err();
    assert!(e.to_string().contains("schema has 7 features"), "{e}");
    let bad = dir.path().join("missing-dir/x.csv");
    let e = write_csv(&bad, &syn, &schema, CsvLabels::Empty).unwrap_err();
    assert!(e.to_string().contains("missing-dir/x.csv"), "{e}");
}

#[test]
fn write_idx_round_trips_through_load() {
    let dir = tempfile::tempdir().unwrap();
    let ds = images(40, 5);
    let syn = munge(&ds, None, &opts(60, 1), None).unwrap();
    let out = dir.path().join("syn");
    write_idx(&out, &syn).unwrap();
    no_temp_files(&out);
    assert!(out.join("train-images-idx3-ubyte").is_file());
    let src = load(out.to_str().unwrap(), &LoadOptions::default()).unwrap();
    assert_eq!(src.train.shape, vec![1, 4, 5]);
    // Labels all 0: one class; the loader splits a test set off, seeded.
    let (tr, te) = stratified_split_indices(&[0; 60], 1, 0.2, 0);
    let quantised: Vec<f32> = syn.x.iter().map(|v| (v * 255.0).round() / 255.0).collect();
    let q = Dataset {
        x: quantised,
        ..syn.clone()
    };
    assert_eq!(src.train.x, q.subset(&tr).x);
    assert_eq!(src.test.x, q.subset(&te).x);
    assert!(src.train.y.iter().all(|&l| l == 0));

    // Colour images: a 4-dimensional IDX file.
    let rgb = Dataset::new(
        vec![3, 2, 2],
        (0..24).map(|v| v as f32 / 23.0).collect(),
        vec![1, 2],
        3,
        vec!["a".into(), "b".into(), "c".into()],
    )
    .unwrap();
    let out4 = dir.path().join("rgb");
    write_idx(&out4, &rgb).unwrap();
    assert!(out4.join("train-images-idx4-ubyte").is_file());
    let back = crate::idx::load_pair(
        &out4.join("train-images-idx4-ubyte"),
        &out4.join("train-labels-idx1-ubyte"),
        None,
    )
    .unwrap();
    assert_eq!(back.shape, vec![3, 2, 2]);
    assert_eq!(back.y, vec![1, 2]);
    assert_eq!(back.x[23], 1.0);

    let (t, _) = table(3, 0);
    let e = write_idx(&out, &t).unwrap_err();
    assert!(
        e.to_string().contains("[channels, height, width], got [7]"),
        "{e}"
    );
    let mut many = images(2, 0);
    many.classes = 300;
    many.class_names = (0..300).map(|i| i.to_string()).collect();
    many.y[1] = 299;
    let e = write_idx(&out, &many).unwrap_err();
    assert!(e.to_string().contains("label 299 of example 1"), "{e}");
}

#[test]
fn streams_are_distinct_per_step() {
    let mut seen = HashMap::new();
    for (tag, seed, pass, i) in [
        (1, 0, 0, 0),
        (1, 0, 0, 1),
        (1, 0, 1, 0),
        (1, 1, 0, 0),
        (2, 0, 0, 0),
    ] {
        let v = stream(tag, seed, pass, i).next_u64();
        assert!(seen.insert(v, (tag, seed, pass, i)).is_none());
    }
    let mut rng = crate::seeded_rng(0);
    let (mut s, mut s2) = (0.0, 0.0);
    for _ in 0..20_000 {
        let (a, b) = normal_pair(&mut rng);
        s += a + b;
        s2 += a * a + b * b;
    }
    assert!((s / 40_000.0).abs() < 0.02 && (s2 / 40_000.0 - 1.0).abs() < 0.03);
}
