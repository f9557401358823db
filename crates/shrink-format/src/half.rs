//! IEEE 754 half precision (binary16) without a dependency: what format version 2 stores
//! dense tensors and codebooks in when their values are exactly representable
//! (docs/FORMAT.md §3), and the rounding a producer applies first to make them so.
//!
//! Not here: deciding which tensors to round (the producer, e.g. shrink's compress
//! pipeline), the byte layout (`container`).

/// The nearest half-precision value to `v`, as its bit pattern (round to nearest, ties
/// to even; beyond the largest half, ±65504, it is ±infinity; NaN stays NaN).
pub fn f32_to_f16(v: f32) -> u16 {
    let x = v.to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xff) as i32;
    let man = x & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    // The half's biased exponent.
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // A half subnormal (h · 2^-24) or zero; below 2^-25 everything rounds to 0.
        if e < -10 {
            return sign;
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let mut h = m >> shift;
        let rem = m & ((1u32 << shift) - 1);
        if rem > half || (rem == half && h & 1 == 1) {
            h += 1;
        }
        return sign | h as u16;
    }
    let mut h = ((e as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    // A carry out of the mantissa moves into the exponent, up to infinity: correct.
    if rem > 0x1000 || (rem == 0x1000 && h & 1 == 1) {
        h += 1;
    }
    sign | h as u16
}

/// The value of a half-precision bit pattern (exact: every half is an f32).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if man == 0 => sign,
        0 => {
            // Subnormal: man · 2^-24, exact in f32.
            let v = man as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        0x1f => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// `v` rounded to the nearest half-precision value (see [`f32_to_f16`]).
pub fn round_to_f16(v: f32) -> f32 {
    f16_to_f32(f32_to_f16(v))
}

/// The half-precision bits of `v` if `v` is exactly a half (same f32 bits back, so
/// −0.0 stays −0.0; NaN never is), else `None`.
pub fn f16_exact(v: f32) -> Option<u16> {
    let h = f32_to_f16(v);
    (f16_to_f32(h).to_bits() == v.to_bits() && !v.is_nan()).then_some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_half_round_trips() {
        for h in 0..=u16::MAX {
            let v = f16_to_f32(h);
            if v.is_nan() {
                assert!(f32_to_f16(v) & 0x7c00 == 0x7c00 && f32_to_f16(v) & 0x3ff != 0);
                continue;
            }
            assert_eq!(f32_to_f16(v), h, "half {h:#06x} = {v}");
            assert_eq!(f16_exact(v), Some(h));
        }
    }

    #[test]
    fn known_values_and_rounding() {
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(-2.0), 0xc000);
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        assert_eq!(f32_to_f16(65520.0), 0x7c00); // halfway to 2^16: ties to even = inf
        assert_eq!(f32_to_f16(1e6), 0x7c00);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24)); // smallest subnormal
        assert_eq!(f32_to_f16(2f32.powi(-25)), 0); // tie between 0 and 2^-24: even
        assert_eq!(f32_to_f16(2f32.powi(-25) * 1.5), 1);
        // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties to even (1).
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), 0x3c00);
        assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
        // Nearest: the error is at most half a unit in the last place.
        for i in 0..10_000 {
            let v = (i as f32 - 5000.0) * 0.000_731;
            let r = round_to_f16(v);
            let ulp = if r.abs() < 6.1e-5 {
                2f32.powi(-24)
            } else {
                2f32.powi(r.abs().log2().floor() as i32 - 10)
            };
            assert!(
                (r - v).abs() <= ulp / 2.0 + f32::EPSILON * v.abs(),
                "{v} -> {r}"
            );
        }
        assert_eq!(f16_exact(0.1), None);
        assert_eq!(f16_exact(-0.0), Some(0x8000));
        assert_eq!(f16_exact(f32::NAN), None);
    }
}
