//! Normalisation walked block by block gives the bits of the per-value definition.

use super::*;

/// `x[i] ← (x[i] − mean[g]) / std[g]`, `g = (i / per) % groups`: the definition.
fn by_value(n: &NormalizeSpec, shape: &[usize], x: &mut [f32]) {
    let per = if shape.len() == 3 {
        shape[1] * shape[2]
    } else {
        1
    };
    for (i, v) in x.iter_mut().enumerate() {
        let g = (i / per) % n.mean.len();
        *v = (*v - n.mean[g]) / n.std[g];
    }
}

#[test]
fn normalize_matches_the_definition_bit_for_bit() {
    let cases: [(&[usize], &[f32], &[f32]); 4] = [
        (&[1, 28, 28], &[0.1307], &[0.3081]),
        (&[3, 5, 7], &[0.2, 0.5, -0.1], &[0.3, 0.25, 1.7]),
        (&[13], &[0.5; 13], &[2.0; 13]),
        (&[4], &[1.0, -2.0, 3.0, 0.25], &[0.5, 3.0, 0.1, 7.0]),
    ];
    for (shape, mean, std) in cases {
        let n = NormalizeSpec {
            mean: mean.to_vec(),
            std: std.to_vec(),
        };
        let len: usize = shape.iter().product::<usize>() * 5;
        let x: Vec<f32> = (0..len)
            .map(|i| ((i * 7919) % 1009) as f32 / 1009.0)
            .collect();
        let (mut want, mut got) = (x.clone(), x);
        by_value(&n, shape, &mut want);
        normalize(Some(&n), shape, &mut got);
        assert!(
            want.iter()
                .zip(&got)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{shape:?}"
        );
    }
}
