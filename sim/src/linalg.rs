//! Small dense linear algebra: just enough for exact discretisation of thermal networks.
//!
//! The plant's networks have at most ~80 nodes, so a row-major `Vec<f64>` with textbook
//! algorithms is both simple and fast enough; an external linear-algebra crate would add a large
//! dependency for three functions. Everything here runs when a network is (re)built, never per
//! control tick (the per-tick kernel is the pruned sparse operator in `network`).

use std::ops::{Index, IndexMut};

/// A dense row-major matrix of `f64`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// An all-zero `rows × cols` matrix.
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// The `n × n` identity.
    pub fn identity(n: usize) -> Matrix {
        let mut m = Matrix::zeros(n, n);
        for i in 0..n {
            m[(i, i)] = 1.0;
        }
        m
    }

    /// A matrix from its rows; all rows must have the same length.
    pub fn from_rows(rows: &[&[f64]]) -> Matrix {
        let cols = rows.first().map_or(0, |r| r.len());
        assert!(rows.iter().all(|r| r.len() == cols), "ragged rows");
        Matrix {
            rows: rows.len(),
            cols,
            data: rows.iter().flat_map(|r| r.iter().copied()).collect(),
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major element slice.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// Row `r` as a slice.
    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// The sub-matrix of `rows` rows and `cols` columns starting at (`r0`, `c0`).
    pub fn block(&self, r0: usize, c0: usize, rows: usize, cols: usize) -> Matrix {
        let mut b = Matrix::zeros(rows, cols);
        for r in 0..rows {
            b.data[r * cols..(r + 1) * cols].copy_from_slice(
                &self.data[(r0 + r) * self.cols + c0..(r0 + r) * self.cols + c0 + cols],
            );
        }
        b
    }

    /// Copies `src` into this matrix with its top-left corner at (`r0`, `c0`).
    pub fn set_block(&mut self, r0: usize, c0: usize, src: &Matrix) {
        for r in 0..src.rows {
            let dst = (r0 + r) * self.cols + c0;
            self.data[dst..dst + src.cols].copy_from_slice(src.row(r));
        }
    }

    /// The matrix product `self · rhs`.
    pub fn mul(&self, rhs: &Matrix) -> Matrix {
        assert_eq!(self.cols, rhs.rows, "shape mismatch in multiply");
        let mut out = Matrix::zeros(self.rows, rhs.cols);
        for i in 0..self.rows {
            let out_row = &mut out.data[i * rhs.cols..(i + 1) * rhs.cols];
            for (k, &a) in self.row(i).iter().enumerate() {
                if a == 0.0 {
                    continue;
                }
                for (o, &b) in out_row.iter_mut().zip(rhs.row(k)) {
                    *o += a * b;
                }
            }
        }
        out
    }

    /// `out += self · x`, allocation-free.
    pub fn mul_vec_add(&self, x: &[f64], out: &mut [f64]) {
        debug_assert_eq!(x.len(), self.cols);
        debug_assert_eq!(out.len(), self.rows);
        for (o, row) in out.iter_mut().zip(self.data.chunks_exact(self.cols.max(1))) {
            *o += row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
        }
    }

    /// `self · scale + other · other_scale`, element-wise (shapes must match).
    pub fn lin_comb(&self, scale: f64, other: &Matrix, other_scale: f64) -> Matrix {
        assert_eq!(
            (self.rows, self.cols),
            (other.rows, other.cols),
            "shape mismatch in sum"
        );
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(a, b)| a * scale + b * other_scale)
                .collect(),
        }
    }

    /// `self · s`.
    pub fn scaled(&self, s: f64) -> Matrix {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|a| a * s).collect(),
        }
    }

    /// Induced 1-norm: the largest absolute column sum.
    pub fn norm_1(&self) -> f64 {
        (0..self.cols)
            .map(|c| {
                (0..self.rows)
                    .map(|r| self.data[r * self.cols + c].abs())
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
    }

    /// Solves `self · X = rhs` by LU with partial pivoting; `None` if `self` is singular to
    /// working precision.
    pub fn solve(&self, rhs: &Matrix) -> Option<Matrix> {
        assert_eq!(self.rows, self.cols, "solve needs a square matrix");
        assert_eq!(self.rows, rhs.rows, "shape mismatch in solve");
        let n = self.rows;
        let m = rhs.cols;
        let mut a = self.data.clone();
        let mut x = rhs.clone();
        let scale = self.norm_1().max(f64::MIN_POSITIVE);
        // Row operations on whole slices (the same operations in the same order as element by
        // element: the same bits), so the inner loops run without index checks.
        for col in 0..n {
            let pivot = (col..n)
                .max_by(|&p, &q| a[p * n + col].abs().total_cmp(&a[q * n + col].abs()))
                .unwrap_or(col);
            if a[pivot * n + col].abs() <= scale * f64::EPSILON * n as f64 {
                return None;
            }
            if pivot != col {
                swap_rows(&mut a, n, col, pivot);
                swap_rows(&mut x.data, m, col, pivot);
            }
            let (top, below) = a.split_at_mut((col + 1) * n);
            let pivot_row = &top[col * n + col..];
            let (x_top, x_below) = x.data.split_at_mut((col + 1) * m);
            let x_pivot = &x_top[col * m..];
            let d = pivot_row[0];
            for (r, row) in below.chunks_exact_mut(n).enumerate() {
                let f = row[col] / d;
                if f == 0.0 {
                    continue;
                }
                for (v, p) in row[col..].iter_mut().zip(pivot_row) {
                    *v -= f * p;
                }
                for (v, p) in x_below[r * m..(r + 1) * m].iter_mut().zip(x_pivot) {
                    *v -= f * p;
                }
            }
        }
        for col in (0..n).rev() {
            let d = a[col * n + col];
            let (head, solved) = x.data.split_at_mut((col + 1) * m);
            let x_row = &mut head[col * m..];
            for (k, x_k) in (col + 1..n).zip(solved.chunks_exact(m.max(1))) {
                let f = a[col * n + k];
                for (v, s) in x_row.iter_mut().zip(x_k) {
                    *v -= f * s;
                }
            }
            for v in x_row.iter_mut() {
                *v /= d;
            }
        }
        Some(x)
    }
}

/// Swaps rows `r` and `s` of a row-major matrix `width` wide.
fn swap_rows(data: &mut [f64], width: usize, r: usize, s: usize) {
    let (lo, hi) = (r.min(s), r.max(s));
    let (head, tail) = data.split_at_mut(hi * width);
    head[lo * width..(lo + 1) * width].swap_with_slice(&mut tail[..width]);
}

impl Index<(usize, usize)> for Matrix {
    type Output = f64;
    fn index(&self, (r, c): (usize, usize)) -> &f64 {
        assert!(r < self.rows && c < self.cols, "index out of range");
        &self.data[r * self.cols + c]
    }
}

impl IndexMut<(usize, usize)> for Matrix {
    fn index_mut(&mut self, (r, c): (usize, usize)) -> &mut f64 {
        assert!(r < self.rows && c < self.cols, "index out of range");
        &mut self.data[r * self.cols + c]
    }
}

/// Higham (2005) θ₁₃: the largest ‖A‖₁ for which the degree-13 Padé approximant of e^A is
/// accurate to double precision (Higham, SIAM J Matrix Anal Appl 26:1179, Table 2.3).
const THETA_13: f64 = 5.371_920_351_148_152;

/// Coefficients b₀…b₁₃ of the degree-13 Padé approximant to e^x (Higham 2005, eq. 2.4 / Alg. 2.3).
const PADE_13: [f64; 14] = [
    64_764_752_532_480_000.0,
    32_382_376_266_240_000.0,
    7_771_770_303_897_600.0,
    1_187_353_796_428_800.0,
    129_060_195_264_000.0,
    10_559_470_521_600.0,
    670_442_572_800.0,
    33_522_128_640.0,
    1_323_241_920.0,
    40_840_800.0,
    960_960.0,
    16_380.0,
    182.0,
    1.0,
];

/// The matrix exponential e^A by scaling and squaring with the degree-13 Padé approximant
/// (Higham 2005, Algorithm 2.3, always using m = 13: simpler, and at most a few extra products
/// for small norms, which only matters off the hot path).
///
/// Stiff inputs are fine: a node with τ = 0.1 s over a 16 h step only adds squarings
/// (log₂ of the norm), the result stays bounded because squaring a contraction stays a contraction.
pub fn expm(a: &Matrix) -> Matrix {
    assert_eq!(a.rows, a.cols, "expm needs a square matrix");
    let n = a.rows;
    let norm = a.norm_1();
    let squarings = if norm > THETA_13 {
        (norm / THETA_13).log2().ceil() as i32
    } else {
        0
    };
    let a = a.scaled(0.5f64.powi(squarings));
    let b = &PADE_13;
    let ident = Matrix::identity(n);
    let a2 = a.mul(&a);
    let a4 = a2.mul(&a2);
    let a6 = a4.mul(&a2);
    let u_inner = a6
        .mul(&a6.lin_comb(b[13], &a4, b[11]).lin_comb(1.0, &a2, b[9]))
        .lin_comb(1.0, &a6, b[7])
        .lin_comb(1.0, &a4, b[5])
        .lin_comb(1.0, &a2, b[3])
        .lin_comb(1.0, &ident, b[1]);
    let u = a.mul(&u_inner);
    let v = a6
        .mul(&a6.lin_comb(b[12], &a4, b[10]).lin_comb(1.0, &a2, b[8]))
        .lin_comb(1.0, &a6, b[6])
        .lin_comb(1.0, &a4, b[4])
        .lin_comb(1.0, &a2, b[2])
        .lin_comb(1.0, &ident, b[0]);
    let denominator = v.lin_comb(1.0, &u, -1.0);
    let numerator = v.lin_comb(1.0, &u, 1.0);
    let mut r = denominator
        .solve(&numerator)
        .expect("the Padé denominator is nonsingular for ‖A‖₁ ≤ θ₁₃ (Higham 2005, §2)");
    for _ in 0..squarings {
        r = r.mul(&r);
    }
    r
}

/// Most cyclic Jacobi sweeps before [`symmetric_eigen`] gives up. Convergence is quadratic once
/// the off-diagonal is small: the plant's parts (≤ 30 nodes) settle in under ten sweeps.
const JACOBI_MAX_SWEEPS: usize = 60;

/// The eigenvalues and orthonormal eigenvectors (the columns of the matrix) of a symmetric
/// matrix, by cyclic Jacobi rotations (Golub & Van Loan 2013, Algorithm 8.5.3), or `None` if the
/// sweeps do not converge.
///
/// An off-diagonal entry is treated as zero once it is below unit roundoff relative to the
/// geometric mean of its two diagonal entries (Demmel & Veselić 1992): for the scaled
/// conductance matrices of thermal networks, which are diagonally dominant, this keeps even the
/// smallest eigenvalues (the slow modes that a long jump is made of) to high *relative*
/// accuracy, which an absolute threshold against the largest entry would not.
pub fn symmetric_eigen(a: &Matrix) -> Option<(Vec<f64>, Matrix)> {
    assert_eq!(a.rows, a.cols, "eigenvalues need a square matrix");
    let n = a.rows;
    let mut a = a.data.clone();
    // The eigenvectors as rows (Vᵀ), so that a rotation updates two contiguous rows.
    let mut vt = Matrix::identity(n).data;
    for _ in 0..JACOBI_MAX_SWEEPS {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                let (app, aqq) = (a[p * n + p], a[q * n + q]);
                if apq.abs() <= f64::EPSILON * (app * aqq).abs().sqrt() {
                    continue;
                }
                rotated = true;
                let theta = (aqq - app) / (2.0 * apq);
                let t = if theta.abs() > 1e150 {
                    0.5 / theta
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // JᵀAJ touches rows and columns p and q only; A stays symmetric, so the new rows
                // are computed once and mirrored into the columns. Both rows are rotated whole,
                // branch-free and contiguous (they vectorise): their entries in columns p and q
                // come out wrong but are set below, and no other entry reads them.
                let (head, tail) = a.split_at_mut(q * n);
                let (row_p, row_q) = (&mut head[p * n..(p + 1) * n], &mut tail[..n]);
                for (x, y) in row_p.iter_mut().zip(row_q.iter_mut()) {
                    let (akp, akq) = (*x, *y);
                    *x = c * akp - s * akq;
                    *y = s * akp + c * akq;
                }
                for k in 0..n {
                    a[k * n + p] = a[p * n + k];
                    a[k * n + q] = a[q * n + k];
                }
                a[p * n + p] = app - t * apq;
                a[q * n + q] = aqq + t * apq;
                a[p * n + q] = 0.0;
                a[q * n + p] = 0.0;
                let (head, tail) = vt.split_at_mut(q * n);
                let (vp, vq) = (&mut head[p * n..(p + 1) * n], &mut tail[..n]);
                for (x, y) in vp.iter_mut().zip(vq.iter_mut()) {
                    let (vkp, vkq) = (*x, *y);
                    *x = c * vkp - s * vkq;
                    *y = s * vkp + c * vkq;
                }
            }
        }
        if !rotated {
            let values = (0..n).map(|i| a[i * n + i]).collect();
            let mut v = Matrix::zeros(n, n);
            for r in 0..n {
                for m in 0..n {
                    v.data[r * n + m] = vt[m * n + r];
                }
            }
            return Some((values, v));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The textbook product, each element summed in order of the inner index.
    fn naive_mul(a: &Matrix, b: &Matrix) -> Matrix {
        let mut out = Matrix::zeros(a.rows, b.cols);
        for i in 0..a.rows {
            for j in 0..b.cols {
                out[(i, j)] = (0..a.cols).fold(0.0, |s, k| s + a[(i, k)] * b[(k, j)]);
            }
        }
        out
    }

    fn matrix(rows: usize, cols: usize, values: &[f64]) -> Matrix {
        let mut m = Matrix::zeros(rows, cols);
        for (x, v) in m.data.iter_mut().zip(values.iter().cycle()) {
            *x = *v;
        }
        m
    }

    proptest! {
        /// The product (row by row, skipping zeros of the left factor) against the textbook
        /// product: dense factors sum the same products in the same order, so the same bits.
        #[test]
        fn products_match_the_textbook_product(
            n in 1usize..11, p in 1usize..11, m in 1usize..11,
            values in proptest::collection::vec(-3.0f64..3.0, 1..40),
            zero_every in 2usize..5,
        ) {
            let dense: Vec<f64> = values.iter().map(|v| if *v == 0.0 { 0.5 } else { *v }).collect();
            let (a, b) = (matrix(n, p, &dense), matrix(p, m, &values));
            prop_assert_eq!(a.mul(&b), naive_mul(&a, &b));
            let mut sparse = a.clone();
            for (k, x) in sparse.data.iter_mut().enumerate() {
                if k % zero_every != 0 {
                    *x = 0.0;
                }
            }
            let (got, want) = (sparse.mul(&b), naive_mul(&sparse, &b));
            for (g, w) in got.data.iter().zip(&want.data) {
                // Skipping a zero term can only turn a −0 into +0.
                prop_assert!(g == w, "{} vs {}", g, w);
            }
        }
    }

    /// Double-precision agreement expected from Padé 13 after a few squarings: Higham bounds the
    /// backward error by the unit roundoff; a few squarings amplify it by a modest factor.
    const EXPM_TOL: f64 = 1e-12;

    /// e^A·e^-A multiplies two results whose norms reach e^‖A‖ ≈ 1e4 here, so the roundoff
    /// of each (EXPM_TOL relative) is amplified by about that norm.
    const INVERSE_PRODUCT_TOL: f64 = 1e4 * EXPM_TOL;

    fn max_abs_diff(a: &Matrix, b: &Matrix) -> f64 {
        a.as_slice()
            .iter()
            .zip(b.as_slice())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    /// Reference e^A by a long Taylor series of A/2^k then squaring: independent of Padé.
    fn expm_taylor(a: &Matrix) -> Matrix {
        let k = 10;
        let a = a.scaled(0.5f64.powi(k));
        let mut term = Matrix::identity(a.rows());
        let mut sum = term.clone();
        for j in 1..30 {
            term = term.mul(&a).scaled(1.0 / f64::from(j));
            sum = sum.lin_comb(1.0, &term, 1.0);
        }
        for _ in 0..k {
            sum = sum.mul(&sum);
        }
        sum
    }

    #[test]
    fn expm_of_diagonal_is_elementwise_exp() {
        let a = Matrix::from_rows(&[&[-3.0, 0.0], &[0.0, 0.5]]);
        let e = expm(&a);
        assert!(((e[(0, 0)] - (-3.0f64).exp()) / (-3.0f64).exp()).abs() < EXPM_TOL);
        assert!(((e[(1, 1)] - 0.5f64.exp()) / 0.5f64.exp()).abs() < EXPM_TOL);
        assert_eq!(e[(0, 1)], 0.0);
    }

    /// A stiff matrix (‖A‖ = 1e6) needs ~18 squarings; squaring r with relative error δ gives
    /// r^(2^s) with relative error ≈ 2^s·δ ≈ 2.6e5 · 1e-16 (Higham 2005 §3, overscaling), so the
    /// slow mode is only good to ~1e-10 relative: irrelevant for temperatures, but named.
    const STIFF_SQUARING_TOL: f64 = 1e-9;

    #[test]
    fn expm_of_stiff_diagonal_keeps_slow_mode_and_kills_fast_mode() {
        let a = Matrix::from_rows(&[&[-3.0, 0.0], &[0.0, -1e6]]);
        let e = expm(&a);
        assert!(((e[(0, 0)] - (-3.0f64).exp()) / (-3.0f64).exp()).abs() < STIFF_SQUARING_TOL);
        assert!(
            e[(1, 1)].abs() < EXPM_TOL,
            "a τ = 1 µs mode over 1 s must vanish, got {}",
            e[(1, 1)]
        );
    }

    #[test]
    fn expm_of_rotation_generator_is_rotation() {
        let w = 7.3;
        let e = expm(&Matrix::from_rows(&[&[0.0, -w], &[w, 0.0]]));
        let want = Matrix::from_rows(&[&[w.cos(), -w.sin()], &[w.sin(), w.cos()]]);
        assert!(max_abs_diff(&e, &want) < EXPM_TOL, "{e:?}");
    }

    #[test]
    fn expm_of_nilpotent_is_finite_series() {
        let a = Matrix::from_rows(&[&[0.0, 2.0, 3.0], &[0.0, 0.0, 5.0], &[0.0, 0.0, 0.0]]);
        // e^A = I + A + A²/2 exactly.
        let want = Matrix::identity(3)
            .lin_comb(1.0, &a, 1.0)
            .lin_comb(1.0, &a.mul(&a), 0.5);
        assert!(max_abs_diff(&expm(&a), &want) < EXPM_TOL);
    }

    #[test]
    fn expm_matches_taylor_on_a_dense_matrix() {
        let a = Matrix::from_rows(&[
            &[-2.0, 0.7, 0.1, 0.0],
            &[0.3, -1.5, 0.4, 0.2],
            &[0.0, 0.9, -3.0, 1.1],
            &[0.5, 0.0, 0.6, -0.8],
        ])
        .scaled(4.0);
        let e = expm(&a);
        let t = expm_taylor(&a);
        let scale = t.norm_1();
        assert!(max_abs_diff(&e, &t) / scale < EXPM_TOL, "{e:?} vs {t:?}");
        // e^A · e^-A = I.
        let prod = e.mul(&expm(&a.scaled(-1.0)));
        assert!(max_abs_diff(&prod, &Matrix::identity(4)) < INVERSE_PRODUCT_TOL);
    }

    /// A Jacobi decomposition is backward stable: `V Λ Vᵀ` reproduces the matrix, and `V` is
    /// orthonormal, to a modest multiple of unit roundoff times the matrix norm (≤ 10 here).
    const EIGEN_RECONSTRUCT_TOL: f64 = 1e-12;

    proptest! {
        #[test]
        fn symmetric_eigen_reconstructs_the_matrix(
            n in 1usize..14,
            values in proptest::collection::vec(-5.0f64..5.0, 1..200),
        ) {
            let mut a = Matrix::zeros(n, n);
            let mut it = values.iter().cycle();
            for r in 0..n {
                for c in r..n {
                    let x = *it.next().expect("cycle");
                    a[(r, c)] = x;
                    a[(c, r)] = x;
                }
            }
            let (lambda, v) = symmetric_eigen(&a).expect("converges");
            let mut vl = v.clone();
            for r in 0..n {
                for c in 0..n {
                    vl[(r, c)] *= lambda[c];
                }
            }
            let mut vt = Matrix::zeros(n, n);
            for r in 0..n {
                for c in 0..n {
                    vt[(c, r)] = v[(r, c)];
                }
            }
            prop_assert!(max_abs_diff(&vl.mul(&vt), &a) < EIGEN_RECONSTRUCT_TOL);
            prop_assert!(max_abs_diff(&vt.mul(&v), &Matrix::identity(n)) < EIGEN_RECONSTRUCT_TOL);
        }
    }

    /// A graded conductance matrix, as a stiff thermal network gives: a fast node (rate ~1e3 /s)
    /// coupled to a slow one (~1e-3 /s). Its small eigenvalue, which sets a long jump, must come
    /// out with relative accuracy near roundoff (the 2 × 2 closed form), not the absolute
    /// accuracy ε·‖A‖ ≈ 1e-13 /s that would leave it wrong by 1e-10 relative.
    /// Relative accuracy of the slow eigenvalue: a few ulps.
    const SLOW_MODE_REL: f64 = 1e-14;

    #[test]
    fn symmetric_eigen_keeps_the_slow_mode_of_a_graded_matrix_to_relative_accuracy() {
        let (a, b, d) = (-1000.0, 0.01, -1e-3);
        let m = Matrix::from_rows(&[&[a, b], &[b, d]]);
        let (lambda, _) = symmetric_eigen(&m).expect("converges");
        // The eigenvalue of smaller magnitude, computed without cancellation: det / λ_big.
        let mean = 0.5 * (a + d);
        let big = mean - (0.25 * (a - d) * (a - d) + b * b).sqrt();
        let small = (a * d - b * b) / big;
        let got = lambda
            .iter()
            .copied()
            .min_by(|x, y| x.abs().total_cmp(&y.abs()))
            .expect("two");
        assert!(
            ((got - small) / small).abs() < SLOW_MODE_REL,
            "{got} vs {small}"
        );
    }

    #[test]
    fn solve_recovers_a_known_solution() {
        let a = Matrix::from_rows(&[&[1e-3, 2.0, 0.0], &[4.0, -1.0, 3.0], &[0.5, 0.5, 9.0]]);
        let x = Matrix::from_rows(&[&[1.0, -2.0], &[0.25, 3.0], &[-7.0, 0.5]]);
        let b = a.mul(&x);
        let got = a.solve(&b).expect("nonsingular");
        assert!(max_abs_diff(&got, &x) < EXPM_TOL);
        let singular = Matrix::from_rows(&[&[1.0, 2.0], &[2.0, 4.0]]);
        assert!(singular.solve(&Matrix::identity(2)).is_none());
    }

    #[test]
    fn mul_vec_add_accumulates() {
        let a = Matrix::from_rows(&[&[1.0, 2.0], &[3.0, 4.0], &[5.0, 6.0]]);
        let mut out = [1.0, 1.0, 1.0];
        a.mul_vec_add(&[10.0, 100.0], &mut out);
        assert_eq!(out, [211.0, 431.0, 651.0]);
    }
}
