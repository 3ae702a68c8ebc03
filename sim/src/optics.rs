//! Irradiance on the skin from an array of generalized-Lambertian emitters.
//!
//! Dose is irradiance integrated over time, and the harness judges it per point of the treated
//! zone, so the plant needs a spatial map, not a headline number. Geometry does not change during
//! a step: a map per string is computed once per placement at a reference drive (each string at
//! its channel's nominal current, 25 °C, full duty) and the plant scales it by the string's live
//! output factor ([`crate::led::LedParams::drive_factor`]). Irradiance is linear in flux, so this
//! is exact.
//!
//! Frames and units: lengths in cm, intensity in mW/sr, so `I0/R²` is directly mW/cm². The skin
//! is the plane z = 0 with outward normal +z; a device's emitters are given in the device frame
//! (LED plane z = 0, facing −z) and moved to the skin by a [`Placement`].

use crate::device::MAX_STRINGS;

use core::f64::consts::PI;

/// A point or direction in cm.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Vec3 {
    /// x, cm.
    pub x: f64,
    /// y, cm.
    pub y: f64,
    /// z, cm.
    pub z: f64,
}

impl Vec3 {
    /// Unit vector +z: the skin's outward normal.
    pub const UP: Vec3 = Vec3 {
        x: 0.0,
        y: 0.0,
        z: 1.0,
    };
    /// Unit vector −z: the emission direction of a device's LEDs.
    pub const DOWN: Vec3 = Vec3 {
        x: 0.0,
        y: 0.0,
        z: -1.0,
    };

    /// A vector from its components.
    pub const fn new(x: f64, y: f64, z: f64) -> Self {
        Self { x, y, z }
    }

    /// Dot product.
    pub fn dot(self, o: Vec3) -> f64 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }

    /// `self − o`.
    pub fn minus(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }

    /// `self + o`.
    pub fn plus(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }

    /// Euclidean length.
    pub fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }
}

/// One emitter of a device, in the device frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Emitter {
    /// Position, cm (LED plane at z = 0).
    pub pos_cm: Vec3,
    /// Unit optical axis (normally [`Vec3::DOWN`]).
    pub normal: Vec3,
    /// Global string index `s = channel · 2 + k`.
    pub string: usize,
}

/// Beam of one emitter at the reference drive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Beam {
    /// On-axis intensity I0, mW/sr.
    pub i0_mw_sr: f64,
    /// Generalized-Lambertian order m (domain.md §2.1).
    pub m: f64,
}

impl Beam {
    /// Beam of an emitter of flux `flux_mw` (mW) and order `m`: `I0 = Φ(m + 1)/(2π)`
    /// (domain.md §2.1).
    pub fn from_flux(flux_mw: f64, m: f64) -> Self {
        Self {
            i0_mw_sr: flux_mw * (m + 1.0) / (2.0 * PI),
            m,
        }
    }
}

/// Where the device sits relative to the skin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// LED plane to skin, cm (the standoff for contact devices).
    pub distance_cm: f64,
    /// Lateral shift of the device centre from the zone centre along x, cm.
    pub offset_x_cm: f64,
    /// Lateral shift along y, cm.
    pub offset_y_cm: f64,
}

impl Placement {
    /// Centred over the zone at `distance_cm`.
    pub fn centred(distance_cm: f64) -> Self {
        Self {
            distance_cm,
            offset_x_cm: 0.0,
            offset_y_cm: 0.0,
        }
    }

    /// Position of a device-frame point on the skin side.
    pub fn to_skin_frame(&self, p: Vec3) -> Vec3 {
        Vec3::new(
            p.x + self.offset_x_cm,
            p.y + self.offset_y_cm,
            p.z + self.distance_cm,
        )
    }
}

/// Irradiance at `point` (surface normal `surface_normal`) from one emitter at `pos` with axis
/// `axis`, mW/cm² (domain.md §2.2, vector form):
/// `E = I0 · cos^m θ · cos ψ / R²`, zero when either cosine is ≤ 0 (behind the emitter or the
/// receiving surface). Lengths in cm, I0 in mW/sr.
pub fn point_irradiance(
    beam: Beam,
    pos: Vec3,
    axis: Vec3,
    point: Vec3,
    surface_normal: Vec3,
) -> f64 {
    let r = point.minus(pos);
    let r2 = r.dot(r);
    if r2 == 0.0 {
        return 0.0;
    }
    let inv_r = r2.sqrt().recip();
    let cos_theta = axis.dot(r) * inv_r;
    let cos_psi = -surface_normal.dot(r) * inv_r;
    if cos_theta <= 0.0 || cos_psi <= 0.0 {
        return 0.0;
    }
    beam.i0_mw_sr * cos_theta.powf(beam.m) * cos_psi / r2
}

/// Closed form for an emitter facing a parallel plane at separation `z_cm` and lateral offset
/// `rho_cm` (domain.md §2.2): `E = I0 · z^(m+1) / (ρ² + z²)^((m+3)/2)`, mW/cm².
pub fn parallel_plane_irradiance(beam: Beam, z_cm: f64, rho_cm: f64) -> f64 {
    beam.i0_mw_sr * z_cm.powf(beam.m + 1.0)
        / (rho_cm * rho_cm + z_cm * z_cm).powf((beam.m + 3.0) / 2.0)
}

/// View factor from a differential element to a parallel 2a × 2b rectangle centred above it at
/// distance c (all in the same length unit): `F = 4·F_c(a,b,c)`,
/// `F_c = (1/2π)[X/√(1+X²)·atan(Y/√(1+X²)) + Y/√(1+Y²)·atan(X/√(1+Y²))]`, X = a/c, Y = b/c
/// (domain.md §2.3 \[M formula; D checks\]). A dense Lambertian panel of exitance M gives `E = M·F`
/// at the centre.
pub fn view_factor_centre(a: f64, b: f64, c: f64) -> f64 {
    let x = a / c;
    let y = b / c;
    let sx = (1.0 + x * x).sqrt();
    let sy = (1.0 + y * y).sqrt();
    let f_c = (x / sx * (y / sx).atan() + y / sy * (x / sy).atan()) / (2.0 * PI);
    4.0 * f_c
}

/// A rectangular grid of receiving points on the skin (cell centres), centred on the origin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SkinGrid {
    /// Points along x.
    pub nx: usize,
    /// Points along y.
    pub ny: usize,
    /// Extent along x, cm.
    pub width_cm: f64,
    /// Extent along y, cm.
    pub height_cm: f64,
}

impl SkinGrid {
    /// Default resolution per side (product.md: 16×16 dose grid).
    pub const DEFAULT_POINTS: usize = 16;

    /// A 16 × 16 grid covering `width_cm` × `height_cm`.
    pub fn covering(width_cm: f64, height_cm: f64) -> Self {
        Self {
            nx: Self::DEFAULT_POINTS,
            ny: Self::DEFAULT_POINTS,
            width_cm,
            height_cm,
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.nx * self.ny
    }

    /// True when the grid has no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Area represented by one point, cm².
    pub fn cell_area_cm2(&self) -> f64 {
        self.width_cm * self.height_cm / self.len() as f64
    }

    /// Point `index` (row-major, x fastest) on the skin plane z = 0.
    pub fn point(&self, index: usize) -> Vec3 {
        let ix = index % self.nx;
        let iy = index / self.nx;
        let dx = self.width_cm / self.nx as f64;
        let dy = self.height_cm / self.ny as f64;
        Vec3::new(
            (ix as f64 + 0.5) * dx - self.width_cm / 2.0,
            (iy as f64 + 0.5) * dy - self.height_cm / 2.0,
            0.0,
        )
    }
}

/// Irradiance over a [`SkinGrid`], mW/cm², row-major (x fastest).
#[derive(Clone, Debug, PartialEq)]
pub struct IrradianceMap {
    /// The grid the values belong to.
    pub grid: SkinGrid,
    /// One value per grid point, mW/cm².
    pub mw_cm2: Vec<f64>,
}

impl IrradianceMap {
    /// A dark map.
    pub fn zeros(grid: SkinGrid) -> Self {
        Self {
            grid,
            mw_cm2: vec![0.0; grid.len()],
        }
    }

    /// Adds `factor ×` another map on the same grid.
    pub fn add_scaled(&mut self, other: &IrradianceMap, factor: f64) {
        debug_assert_eq!(self.grid, other.grid);
        for (a, b) in self.mw_cm2.iter_mut().zip(&other.mw_cm2) {
            *a += factor * b;
        }
    }

    /// Uniformity statistics of the map (domain.md §2.3).
    pub fn stats(&self) -> ZoneStats {
        ZoneStats::of(&self.mw_cm2)
    }
}

/// Irradiance statistics over a zone (domain.md §2.3): U1 = E_min/E_avg, U2 = E_min/E_max,
/// CV = σ_E/E_avg (population σ over the grid points, which are equal-area cells).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ZoneStats {
    /// Mean, mW/cm².
    pub mean: f64,
    /// Minimum, mW/cm².
    pub min: f64,
    /// Maximum, mW/cm².
    pub max: f64,
    /// min / mean (0 for a dark zone).
    pub u1: f64,
    /// min / max (0 for a dark zone).
    pub u2: f64,
    /// σ / mean (0 for a dark zone).
    pub cv: f64,
}

impl ZoneStats {
    /// Statistics of a list of equal-area irradiance samples, mW/cm².
    pub fn of(values: &[f64]) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(0.0, f64::max);
        let min = if min.is_finite() { min } else { 0.0 };
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let ratio = |num: f64, den: f64| if den > 0.0 { num / den } else { 0.0 };
        ZoneStats {
            mean,
            min,
            max,
            u1: ratio(min, mean),
            u2: ratio(min, max),
            cv: ratio(var.sqrt(), mean),
        }
    }

    /// Peak-to-mean ratio (1 for a flat zone, 0 for a dark one).
    pub fn peak_to_mean(&self) -> f64 {
        if self.mean > 0.0 {
            self.max / self.mean
        } else {
            0.0
        }
    }
}

/// Irradiance at one receiving point from every emitter, summed per string, mW/cm², with each
/// string's emitters at their reference beam `beams[s]`.
pub fn irradiance_per_string(
    emitters: &[Emitter],
    beams: &[Beam; MAX_STRINGS],
    placement: Placement,
    point: Vec3,
    surface_normal: Vec3,
) -> [f64; MAX_STRINGS] {
    let mut out = [0.0; MAX_STRINGS];
    for e in emitters {
        let pos = placement.to_skin_frame(e.pos_cm);
        out[e.string] += point_irradiance(beams[e.string], pos, e.normal, point, surface_normal);
    }
    out
}

/// Reference irradiance maps, one per global string, over one grid.
#[derive(Clone, Debug, PartialEq)]
pub struct StringMaps {
    /// `per_string[s]` is the map of string `s` at its reference drive; all zero for an absent
    /// string.
    pub per_string: [IrradianceMap; MAX_STRINGS],
}

impl StringMaps {
    /// Maps of every string of `emitters` over `grid` (skin normal +z), each string's emitters at
    /// `beams[s]`.
    pub fn compute(
        emitters: &[Emitter],
        beams: &[Beam; MAX_STRINGS],
        grid: SkinGrid,
        placement: Placement,
    ) -> Self {
        let mut per_string = core::array::from_fn(|_| IrradianceMap::zeros(grid));
        for i in 0..grid.len() {
            let e = irradiance_per_string(emitters, beams, placement, grid.point(i), Vec3::UP);
            for (map, value) in per_string.iter_mut().zip(e) {
                map.mw_cm2[i] = value;
            }
        }
        Self { per_string }
    }

    /// The grid of the maps.
    pub fn grid(&self) -> SkinGrid {
        self.per_string[0].grid
    }

    /// Writes `Σ_s factors[s] · map_s` into `out` (no allocation: the plant's per-step path).
    pub fn combine_into(&self, factors: &[f64; MAX_STRINGS], out: &mut [f64]) {
        out.fill(0.0);
        for (map, &f) in self.per_string.iter().zip(factors) {
            if f != 0.0 {
                for (o, v) in out.iter_mut().zip(&map.mw_cm2) {
                    *o += f * v;
                }
            }
        }
    }

    /// The combined map at the given per-string factors.
    pub fn combined(&self, factors: &[f64; MAX_STRINGS]) -> IrradianceMap {
        let mut map = IrradianceMap::zeros(self.grid());
        self.combine_into(factors, &mut map.mw_cm2);
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Vector form and closed form are the same expression rearranged: only rounding differs.
    const ALGEBRAIC_REL_TOL: f64 = 1e-12;
    /// The §2.3 table is printed to 3 decimals: half a unit in the last digit.
    const TABLE_3_DECIMALS: f64 = 5e-4;
    /// The §2.3 edge fall-off figures are printed to 2 decimals: half a unit in the last digit.
    const TABLE_2_DECIMALS: f64 = 5e-3;

    /// A dense panel of `2a × 2b` cm with one emitter per `pitch × pitch` cell (at the cell
    /// centres), each of flux `pitch²` mW so the exitance is 1 mW/cm², facing down.
    fn dense_panel(a: f64, b: f64, pitch: f64) -> Vec<Emitter> {
        let nx = (2.0 * a / pitch).round() as usize;
        let ny = (2.0 * b / pitch).round() as usize;
        let mut out = Vec::with_capacity(nx * ny);
        for iy in 0..ny {
            for ix in 0..nx {
                let x = -a + (ix as f64 + 0.5) * pitch;
                let y = -b + (iy as f64 + 0.5) * pitch;
                out.push(Emitter {
                    pos_cm: Vec3::new(x, y, 0.0),
                    normal: Vec3::DOWN,
                    string: 0,
                });
            }
        }
        out
    }

    fn panel_e(emitters: &[Emitter], pitch: f64, m: f64, c: f64, point: Vec3) -> f64 {
        let beams = [Beam::from_flux(pitch * pitch, m); MAX_STRINGS];
        irradiance_per_string(emitters, &beams, Placement::centred(c), point, Vec3::UP)[0]
    }

    #[test]
    fn dense_panel_reproduces_view_factor_table() {
        // domain.md §2.3 [D]: (panel w × h cm, [F at c = 5, 10, 15, 30, 45 cm]).
        let table = [
            (30.0, 45.0, [0.937, 0.793, 0.635, 0.314, 0.172]),
            (20.0, 30.0, [0.870, 0.635, 0.443, 0.172, 0.085]),
            (60.0, 90.0, [0.983, 0.937, 0.870, 0.635, 0.443]),
        ];
        // 0.5 cm pitch: 1 cm already agrees to 3 decimals at c ≥ 5 cm, half keeps a margin.
        let pitch = 0.5;
        for (w, h, row) in table {
            let panel = dense_panel(w / 2.0, h / 2.0, pitch);
            for (c, f_table) in [5.0, 10.0, 15.0, 30.0, 45.0].into_iter().zip(row) {
                let f_closed = view_factor_centre(w / 2.0, h / 2.0, c);
                assert!(
                    (f_closed - f_table).abs() < TABLE_3_DECIMALS,
                    "{w}×{h} @ {c}: closed {f_closed}"
                );
                let f_sum = panel_e(&panel, pitch, 1.0, c, Vec3::default());
                assert!(
                    (f_sum - f_table).abs() < TABLE_3_DECIMALS,
                    "{w}×{h} @ {c}: sum {f_sum}"
                );
            }
        }
    }

    #[test]
    fn view_factor_limits() {
        // F → 1 as c → 0; F → A/(π c²) (inverse square) as c → ∞ (domain.md §2.3).
        assert!((view_factor_centre(15.0, 22.5, 1e-3) - 1.0).abs() < 1e-3);
        let far = 1e4;
        let inv_sq = 4.0 * 15.0 * 22.5 / (PI * far * far);
        assert!((view_factor_centre(15.0, 22.5, far) / inv_sq - 1.0).abs() < 1e-4);
    }

    #[test]
    fn edge_fall_off_of_30_by_45_panel_at_15_cm() {
        // domain.md §2.3 [D]: E/M at 15 cm: m = 1 centre 0.635, mid-long-edge 0.39, corner 0.22;
        // m = 4.82 centre 0.94, mid-long-edge 0.49.
        let pitch = 0.5;
        let panel = dense_panel(15.0, 22.5, pitch);
        let centre = Vec3::default();
        let mid_long_edge = Vec3::new(15.0, 0.0, 0.0);
        let corner = Vec3::new(15.0, 22.5, 0.0);
        assert!((panel_e(&panel, pitch, 1.0, 15.0, centre) - 0.635).abs() < TABLE_3_DECIMALS);
        assert!((panel_e(&panel, pitch, 1.0, 15.0, mid_long_edge) - 0.39).abs() < TABLE_2_DECIMALS);
        assert!((panel_e(&panel, pitch, 1.0, 15.0, corner) - 0.22).abs() < TABLE_2_DECIMALS);
        assert!((panel_e(&panel, pitch, 4.82, 15.0, centre) - 0.94).abs() < TABLE_2_DECIMALS);
        assert!(
            (panel_e(&panel, pitch, 4.82, 15.0, mid_long_edge) - 0.49).abs() < TABLE_2_DECIMALS
        );
    }

    #[test]
    fn behind_the_emitter_or_the_surface_is_dark() {
        let beam = Beam::from_flux(100.0, 1.0);
        // Emitter below the skin plane, facing down: behind the receiving surface.
        assert_eq!(
            point_irradiance(
                beam,
                Vec3::new(0.0, 0.0, -1.0),
                Vec3::DOWN,
                Vec3::default(),
                Vec3::UP
            ),
            0.0
        );
        // Emitter above, facing up: the skin is behind it.
        assert_eq!(
            point_irradiance(
                beam,
                Vec3::new(0.0, 0.0, 1.0),
                Vec3::UP,
                Vec3::default(),
                Vec3::UP
            ),
            0.0
        );
    }

    #[test]
    fn zone_stats_of_a_known_list() {
        let s = ZoneStats::of(&[1.0, 2.0, 3.0, 2.0]);
        assert_eq!((s.mean, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!((s.u1, s.u2), (0.5, 1.0 / 3.0));
        assert!((s.cv - (0.5f64).sqrt() / 2.0).abs() < ALGEBRAIC_REL_TOL);
        assert_eq!(ZoneStats::of(&[0.0; 4]).u1, 0.0);
    }

    proptest! {
        #[test]
        fn single_emitter_matches_parallel_plane_closed_form(
            m in 0.5f64..50.0, z in 0.1f64..100.0, x in -50.0f64..50.0, y in -50.0f64..50.0,
        ) {
            let beam = Beam::from_flux(1000.0, m);
            let vector = point_irradiance(beam, Vec3::new(0.0, 0.0, z), Vec3::DOWN, Vec3::new(x, y, 0.0), Vec3::UP);
            let closed = parallel_plane_irradiance(beam, z, (x * x + y * y).sqrt());
            prop_assert!((vector - closed).abs() <= ALGEBRAIC_REL_TOL * closed.max(f64::MIN_POSITIVE));
        }

        #[test]
        fn more_distance_never_raises_on_axis_irradiance(
            m in 0.5f64..50.0, a in 1.0f64..40.0, b in 1.0f64..40.0,
            far_field in 0.0f64..60.0, dc in 0.0f64..30.0,
        ) {
            // One emitter on its own axis: I0/z², at any distance.
            let beam = Beam::from_flux(100.0, m);
            let z = 0.01 + far_field;
            prop_assert!(parallel_plane_irradiance(beam, z + dc, 0.0) <= parallel_plane_irradiance(beam, z, 0.0));
            // A uniform panel (0.5 cm pitch) of any size and beam order, at its centre, beyond
            // the near field. Closer, the discrete sum is a coarse sample of the beam and may
            // rise with distance between emitters, as it does under a real discrete panel; once
            // the footprint radius c·tan θ½ spans 4 pitches the sampling error is far below the
            // fall-off (a smooth kernel's Riemann-sum error decays like exp(−(width/pitch)²)).
            let pitch = 0.5;
            let tan_half = (0.5f64.powf(1.0 / m)).acos().tan();
            let near_field = 4.0 * pitch / tan_half;
            let c = near_field + far_field;
            let panel = dense_panel((a / pitch).round() * pitch, (b / pitch).round() * pitch, pitch);
            let near = panel_e(&panel, pitch, m, c, Vec3::default());
            let far = panel_e(&panel, pitch, m, c + dc, Vec3::default());
            prop_assert!(far <= near * (1.0 + ALGEBRAIC_REL_TOL), "c {} → {}: {} → {}", c, c + dc, near, far);
        }

        #[test]
        fn maps_are_non_negative_and_linear_in_flux(
            flux in 0.0f64..5000.0, k in 0.0f64..10.0, m in 0.5f64..20.0,
            d in 0.2f64..30.0, ox in -10.0f64..10.0, oy in -10.0f64..10.0,
        ) {
            let emitters = [
                Emitter { pos_cm: Vec3::new(-3.0, 1.0, 0.0), normal: Vec3::DOWN, string: 0 },
                Emitter { pos_cm: Vec3::new(4.0, -2.0, 0.0), normal: Vec3::DOWN, string: 1 },
                Emitter { pos_cm: Vec3::new(0.0, 5.0, 0.0), normal: Vec3::new(0.6, 0.0, -0.8), string: 3 },
            ];
            let grid = SkinGrid::covering(20.0, 12.0);
            let placement = Placement { distance_cm: d, offset_x_cm: ox, offset_y_cm: oy };
            let base = StringMaps::compute(&emitters, &[Beam::from_flux(flux, m); MAX_STRINGS], grid, placement);
            let scaled = StringMaps::compute(&emitters, &[Beam::from_flux(k * flux, m); MAX_STRINGS], grid, placement);
            for (mb, ms) in base.per_string.iter().zip(&scaled.per_string) {
                for (vb, vs) in mb.mw_cm2.iter().zip(&ms.mw_cm2) {
                    prop_assert!(*vb >= 0.0 && *vs >= 0.0);
                    prop_assert!((vs - k * vb).abs() <= ALGEBRAIC_REL_TOL * 10.0 * vs.abs().max(1e-300));
                }
            }
            prop_assert!(base.per_string[2].mw_cm2.iter().all(|v| *v == 0.0));
        }
    }
}
