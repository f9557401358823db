//! [`Dataset`]: one split of labelled examples, features as `f32` in row-major order.

use crate::error::DataError;

/// One split of examples, features as `f32` in row-major order.
///
/// Invariants (checked by [`Dataset::new`] / [`Dataset::validate`], guaranteed by
/// every loader of this crate): `x.len() == y.len() * prod(shape)`, every label
/// `< classes`, `class_names.len() == classes`.
#[derive(Clone, PartialEq)]
pub struct Dataset {
    /// Per-example shape: `[C, H, W]` for images, `[F]` for tables (F = encoded
    /// width, one-hot expanded).
    pub shape: Vec<usize>,
    /// `n * prod(shape)` values; images scaled to `[0, 1]` (u8/255); tables: raw
    /// numeric values, one-hot 0/1 for categories.
    pub x: Vec<f32>,
    /// `n` labels, each `< classes`.
    pub y: Vec<u32>,
    /// Number of classes.
    pub classes: usize,
    /// One name per class (`"0".."9"` for MNIST).
    pub class_names: Vec<String>,
}

impl std::fmt::Debug for Dataset {
    /// A summary, not the values (a dataset can hold millions of them).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("n", &self.y.len())
            .field("shape", &self.shape)
            .field("x.len()", &self.x.len())
            .field("classes", &self.classes)
            .field("class_names", &self.class_names)
            .finish()
    }
}

impl Dataset {
    /// Builds a dataset, checking the invariants.
    pub fn new(
        shape: Vec<usize>,
        x: Vec<f32>,
        y: Vec<u32>,
        classes: usize,
        class_names: Vec<String>,
    ) -> Result<Self, DataError> {
        let ds = Dataset {
            shape,
            x,
            y,
            classes,
            class_names,
        };
        ds.validate()?;
        Ok(ds)
    }

    /// Checks the invariants listed on [`Dataset`].
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |msg: String| Err(DataError::InvalidDataset { msg });
        let Some(el) = self
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        else {
            return bad(format!("shape {:?} overflows usize", self.shape));
        };
        if self.y.len().checked_mul(el) != Some(self.x.len()) {
            return bad(format!(
                "x has {} values, expected {} examples x {} (shape {:?})",
                self.x.len(),
                self.y.len(),
                el,
                self.shape
            ));
        }
        if self.class_names.len() != self.classes {
            return bad(format!(
                "{} class names for {} classes",
                self.class_names.len(),
                self.classes
            ));
        }
        if let Some((i, &l)) = self
            .y
            .iter()
            .enumerate()
            .find(|(_, &l)| l as usize >= self.classes)
        {
            return bad(format!(
                "label {l} of example {i} out of range (classes: {})",
                self.classes
            ));
        }
        Ok(())
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Values per example: the product of `shape`.
    pub fn example_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The features of example `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn example(&self, i: usize) -> &[f32] {
        let el = self.example_len();
        &self.x[i * el..(i + 1) * el]
    }

    /// A new dataset with the examples `idx` (in that order; repeats allowed),
    /// same shape and classes.
    ///
    /// # Panics
    /// If an index is `>= self.len()`.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let el = self.example_len();
        let mut x = Vec::with_capacity(idx.len() * el);
        let mut y = Vec::with_capacity(idx.len());
        for &i in idx {
            x.extend_from_slice(self.example(i));
            y.push(self.y[i]);
        }
        Dataset {
            shape: self.shape.clone(),
            x,
            y,
            classes: self.classes,
            class_names: self.class_names.clone(),
        }
    }

    /// Number of examples of each class (`len == classes`).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0usize; self.classes];
        for &l in &self.y {
            if let Some(slot) = c.get_mut(l as usize) {
                *slot += 1;
            }
        }
        c
    }

    /// A JSON summary: `n`, `shape`, `classes`, `class_names`, `class_counts`
    /// (no feature values).
    pub fn summary_json(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.len(),
            "shape": self.shape,
            "classes": self.classes,
            "class_names": self.class_names,
            "class_counts": self.class_counts(),
        })
    }
}

/// `"0", "1", .., "k-1"`.
pub(crate) fn numbered_class_names(k: usize) -> Vec<String> {
    (0..k).map(|i| i.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        Dataset::new(
            vec![2],
            vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            vec![0, 2, 0],
            3,
            numbered_class_names(3),
        )
        .unwrap()
    }

    #[test]
    fn accessors() {
        let d = tiny();
        assert_eq!(d.len(), 3);
        assert!(!d.is_empty());
        assert_eq!(d.example_len(), 2);
        assert_eq!(d.example(1), &[2.0, 3.0]);
        assert_eq!(d.class_counts(), vec![2, 0, 1]);
        let s = d.subset(&[2, 0, 2]);
        assert_eq!(s.x, vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
        assert_eq!(s.y, vec![0, 0, 0]);
        assert_eq!(s.classes, 3);
        let e = d.subset(&[]);
        assert!(e.is_empty());
        assert_eq!(e.x.len(), 0);
        let j = d.summary_json();
        assert_eq!(j["n"], 3);
        assert_eq!(j["class_counts"], serde_json::json!([2, 0, 1]));
        assert!(format!("{d:?}").contains("n: 3"));
    }

    #[test]
    fn new_rejects_broken_invariants() {
        let e = Dataset::new(
            vec![2],
            vec![0.0; 5],
            vec![0, 0],
            1,
            numbered_class_names(1),
        )
        .unwrap_err();
        assert!(e.to_string().contains("x has 5 values"), "{e}");
        let e = Dataset::new(
            vec![1],
            vec![0.0; 2],
            vec![0, 3],
            2,
            numbered_class_names(2),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("label 3 of example 1 out of range (classes: 2)"),
            "{e}"
        );
        let e = Dataset::new(vec![1], vec![0.0], vec![0], 2, numbered_class_names(1)).unwrap_err();
        assert!(e.to_string().contains("1 class names for 2 classes"), "{e}");
        let e = Dataset::new(
            vec![usize::MAX, 2],
            vec![],
            vec![],
            1,
            numbered_class_names(1),
        )
        .unwrap_err();
        assert!(e.to_string().contains("overflows"), "{e}");
    }
}
