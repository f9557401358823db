//! The few transcendental functions the layers need: `std`'s with the `std` feature (the
//! host build is unchanged), `libm`'s without it (a microcontroller has no `std`). The
//! two may differ in the last bit; tests compare within a tolerance.

/// `e^x`.
#[inline]
pub(crate) fn exp(x: f32) -> f32 {
    #[cfg(feature = "std")]
    return x.exp();
    #[cfg(not(feature = "std"))]
    return libm::expf(x);
}

/// Hyperbolic tangent.
#[inline]
pub(crate) fn tanh(x: f32) -> f32 {
    #[cfg(feature = "std")]
    return x.tanh();
    #[cfg(not(feature = "std"))]
    return libm::tanhf(x);
}

/// Square root.
#[inline]
pub(crate) fn sqrt(x: f32) -> f32 {
    #[cfg(feature = "std")]
    return x.sqrt();
    #[cfg(not(feature = "std"))]
    return libm::sqrtf(x);
}

/// Square root in double precision (batch-norm folding at load time).
#[inline]
pub(crate) fn sqrt_f64(x: f64) -> f64 {
    #[cfg(feature = "std")]
    return x.sqrt();
    #[cfg(not(feature = "std"))]
    return libm::sqrt(x);
}

/// `a·b + c` with one rounding (only the x86-64 FMA kernels call it).
#[inline(always)]
pub(crate) fn mul_add(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(feature = "std")]
    return a.mul_add(b, c);
    #[cfg(not(feature = "std"))]
    return libm::fmaf(a, b, c);
}
