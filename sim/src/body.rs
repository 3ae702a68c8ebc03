//! The treated body: zones with their layer thicknesses, tissue thermal properties, and skin
//! optics per Fitzpatrick type and wavelength.
//!
//! The tissue model (another module) turns irradiance into heat with depth; what it needs from
//! here is *how much* light enters (1 − R_d), *how much* of that stops in the thin epidermis
//! (melanin, so strongly skin-type dependent, domain.md §7), and *how deep* the rest goes (δ).
//! Literature values for these vary by factors of 2–10 (domain.md §8 item 9), so they are plain
//! data meant to be swept, not constants to trust.

use crate::led::Wavelength;

/// A treated body zone (product.md vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Zone {
    /// Left calf (triceps surae).
    LeftCalf,
    /// Right calf.
    RightCalf,
    /// Left quadriceps.
    LeftQuadriceps,
    /// Right quadriceps.
    RightQuadriceps,
    /// Left hamstrings.
    LeftHamstrings,
    /// Right hamstrings.
    RightHamstrings,
    /// Glutes.
    Glutes,
    /// Lower back.
    Back,
    /// Left Achilles tendon.
    LeftAchilles,
    /// Right Achilles tendon.
    RightAchilles,
    /// Left knee (patellar tendon).
    LeftKnee,
    /// Right knee.
    RightKnee,
    /// Hip (trochanter region).
    Hip,
    /// Face.
    Face,
}

/// Geometry of a zone: treated area and the thicknesses of the layers over muscle (or tendon).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ZoneAnatomy {
    /// Treated skin area, cm².
    pub area_cm2: f64,
    /// Epidermis + dermis thickness, mm (domain.md §4.2: 1–2 mm).
    pub skin_mm: f64,
    /// Subcutaneous fat thickness, mm (domain.md §4.2: 2–20 mm).
    pub fat_mm: f64,
}

impl Zone {
    /// Every zone.
    pub const ALL: [Zone; 14] = [
        Zone::LeftCalf,
        Zone::RightCalf,
        Zone::LeftQuadriceps,
        Zone::RightQuadriceps,
        Zone::LeftHamstrings,
        Zone::RightHamstrings,
        Zone::Glutes,
        Zone::Back,
        Zone::LeftAchilles,
        Zone::RightAchilles,
        Zone::LeftKnee,
        Zone::RightKnee,
        Zone::Hip,
        Zone::Face,
    ];

    /// Area and layers of the zone. Design choice for a lean adult endurance athlete, inside the
    /// domain.md §4.2 ranges (skin 1–2 mm, fat 2–20 mm); areas match the device footprints that
    /// treat them (wrap 30 × 15, pad 40 × 25, mask 15 × 20 cm) and domain.md §8's ~600 cm² of
    /// thigh; left and right are mirror images.
    pub const fn anatomy(self) -> ZoneAnatomy {
        let (area_cm2, skin_mm, fat_mm) = match self {
            Zone::LeftCalf | Zone::RightCalf => (450.0, 1.5, 5.0),
            Zone::LeftQuadriceps | Zone::RightQuadriceps => (600.0, 1.5, 7.0),
            Zone::LeftHamstrings | Zone::RightHamstrings => (500.0, 1.5, 8.0),
            Zone::Glutes => (1000.0, 1.8, 15.0),
            Zone::Back => (1000.0, 2.0, 10.0),
            // Thin fat pad; the deep layer stands for the tendon (thermal properties of muscle).
            Zone::LeftAchilles | Zone::RightAchilles => (20.0, 1.2, 2.0),
            Zone::LeftKnee | Zone::RightKnee => (150.0, 1.5, 3.0),
            Zone::Hip => (300.0, 1.8, 12.0),
            Zone::Face => (300.0, 1.2, 4.0),
        };
        ZoneAnatomy {
            area_cm2,
            skin_mm,
            fat_mm,
        }
    }
}

/// Blood density, kg/m³ (domain.md §4.2 \[M\]).
pub const BLOOD_RHO_KG_M3: f64 = 1050.0;
/// Blood specific heat, J/kgK (domain.md §4.2 \[M\]).
pub const BLOOD_C_J_KGK: f64 = 3617.0;
/// Blood volumetric heat capacity ρ_b c_b, J/m³K.
pub const BLOOD_RHO_C_J_M3K: f64 = BLOOD_RHO_KG_M3 * BLOOD_C_J_KGK;
/// Arterial temperature at rest, °C (domain.md §4.2 \[M\]; 37.5–39 after exercise).
pub const ARTERIAL_C: f64 = 37.0;

/// Volumetric perfusion from the IT'IS heat-transfer rate, 1/s (domain.md §4.2):
/// `ω_b = HTR[ml/min/kg] · 1e-6 · ρ_tissue[kg/m³] / 60`.
pub const fn perfusion_from_htr_per_s(htr_ml_min_kg: f64, rho_kg_m3: f64) -> f64 {
    htr_ml_min_kg * 1e-6 * rho_kg_m3 / 60.0
}

/// Thermal properties of one tissue layer for the Pennes equation (domain.md §4.2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TissueProps {
    /// Conductivity k, W/mK.
    pub k_w_mk: f64,
    /// Density ρ, kg/m³.
    pub rho_kg_m3: f64,
    /// Specific heat c, J/kgK.
    pub c_j_kgk: f64,
    /// Volumetric perfusion ω_b at rest, 1/s.
    pub omega_b_per_s: f64,
    /// Metabolic heat q_m at rest, W/m³.
    pub q_m_w_m3: f64,
}

impl TissueProps {
    /// Perfusion coefficient `W = ω_b ρ_b c_b`, W/m³K (domain.md §4.2).
    pub fn perfusion_w_m3k(&self) -> f64 {
        self.omega_b_per_s * BLOOD_RHO_C_J_M3K
    }

    /// Volumetric heat capacity ρc, J/m³K.
    pub fn rho_c_j_m3k(&self) -> f64 {
        self.rho_kg_m3 * self.c_j_kgk
    }
}

/// Skin (epidermis + dermis): k, ρ, c domain.md §4.2 \[V2\] (IT'IS via k-Wave); ω_b from HTR
/// ~106 ml/min/kg \[M\] (= 0.002 /s \[D\]); q_m 1000 W/m³, mid of the 400–1800 range \[M\].
pub const SKIN: TissueProps = TissueProps {
    k_w_mk: 0.37,
    rho_kg_m3: 1109.0,
    c_j_kgk: 3391.0,
    omega_b_per_s: perfusion_from_htr_per_s(106.0, 1109.0),
    q_m_w_m3: 1000.0,
};

/// Subcutaneous fat: k, ρ, c domain.md §4.2 \[V\] (COMSOL/IT'IS); ω_b from HTR ~33 \[M\]
/// (= 0.0005 /s \[D\]); q_m ~500 W/m³ \[M\].
pub const FAT: TissueProps = TissueProps {
    k_w_mk: 0.21,
    rho_kg_m3: 911.0,
    c_j_kgk: 2348.0,
    omega_b_per_s: perfusion_from_htr_per_s(33.0, 911.0),
    q_m_w_m3: 500.0,
};

/// Skeletal muscle: k, ρ, c domain.md §4.2 \[V\] (COMSOL/IT'IS); ω_b from HTR ~37 \[M\]
/// (= 0.0007 /s \[D\]); q_m 700 W/m³, low end of 700–1000 \[M\] (the §4.3 worked example's value).
pub const MUSCLE: TissueProps = TissueProps {
    k_w_mk: 0.49,
    rho_kg_m3: 1090.0,
    c_j_kgk: 3421.0,
    omega_b_per_s: perfusion_from_htr_per_s(37.0, 1090.0),
    q_m_w_m3: 700.0,
};

/// Fitzpatrick skin phototype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkinType {
    /// Type I (very fair).
    I,
    /// Type II (fair).
    II,
    /// Type III (medium).
    III,
    /// Type IV (olive).
    IV,
    /// Type V (brown).
    V,
    /// Type VI (dark brown / black).
    VI,
}

impl SkinType {
    /// Every type, lightest first.
    pub const ALL: [SkinType; 6] = [
        SkinType::I,
        SkinType::II,
        SkinType::III,
        SkinType::IV,
        SkinType::V,
        SkinType::VI,
    ];
}

/// What the skin does to incident light of one wavelength.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SkinOptics {
    /// Diffuse reflectance R_d: fraction of incident light that leaves again.
    pub reflectance: f64,
    /// Fraction of the *absorbed* light deposited in the epidermis (melanin), as a surface source.
    pub epidermal_fraction: f64,
    /// 1/e penetration depth δ of the rest in dermis and below, mm.
    pub penetration_depth_mm: f64,
}

/// Optical penetration depth δ in skin, mm (domain.md §2.4 \[M\]: 1.5–2.5 mm at 630–660 nm,
/// 2.5–4 mm at 810–850 nm; within each band longer wavelengths go deeper as μa and μs' fall).
pub const fn penetration_depth_mm(wavelength: Wavelength) -> f64 {
    match wavelength {
        Wavelength::Red630 => 1.7,
        Wavelength::Red660 => 2.0,
        Wavelength::Nir810 => 3.0,
        Wavelength::Nir850 => 3.3,
    }
}

/// Skin optics for a phototype and wavelength.
///
/// Reflectance: domain.md §2.4 \[M\] gives 30–60 % for light skin in red/NIR and lower for dark
/// skin; melanin absorption falls with wavelength, so NIR reflects more than red and the
/// light-to-dark spread is narrower in NIR. Epidermal fraction: design choice, rising with
/// melanin and larger in red. Calibrated so that a near-surface heating proxy (absorbed light in
/// the epidermis plus the top 0.5 mm of dermis) is 3–6× larger for type VI than for types I and
/// III at 810 nm, reproducing Joensen 2011 (domain.md §7 \[V\]: "3–6× more heating in dark skin");
/// the test `dark_skin_heats_three_to_six_times_more_at_810_nm` holds that.
pub const fn skin_optics(skin: SkinType, wavelength: Wavelength) -> SkinOptics {
    let nir = wavelength.is_nir();
    // (R_d red, R_d NIR, epidermal fraction red, epidermal fraction NIR)
    let (r_red, r_nir, f_red, f_nir) = match skin {
        SkinType::I => (0.50, 0.58, 0.06, 0.03),
        SkinType::II => (0.46, 0.55, 0.08, 0.04),
        SkinType::III => (0.40, 0.51, 0.12, 0.06),
        SkinType::IV => (0.32, 0.46, 0.20, 0.10),
        SkinType::V => (0.22, 0.38, 0.35, 0.22),
        SkinType::VI => (0.12, 0.28, 0.55, 0.45),
    };
    SkinOptics {
        reflectance: if nir { r_nir } else { r_red },
        epidermal_fraction: if nir { f_nir } else { f_red },
        penetration_depth_mm: penetration_depth_mm(wavelength),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// domain.md §4.2 prints ω_b to one significant digit (0.002, 0.0005, 0.0007): half a unit.
    const OMEGA_1_DIGIT_REL: f64 = 0.1;

    /// Fraction of incident light heating the near surface: the epidermal part plus the share of
    /// the rest absorbed in the top `depth_mm` of dermis (exponential deposition, domain.md §2.4).
    fn near_surface_heating(o: SkinOptics, depth_mm: f64) -> f64 {
        let top = 1.0 - (-depth_mm / o.penetration_depth_mm).exp();
        (1.0 - o.reflectance) * (o.epidermal_fraction + (1.0 - o.epidermal_fraction) * top)
    }

    #[test]
    fn dark_skin_heats_three_to_six_times_more_at_810_nm() {
        let heat = |s| near_surface_heating(skin_optics(s, Wavelength::Nir810), 0.5);
        for other in [SkinType::I, SkinType::III] {
            let ratio = heat(SkinType::VI) / heat(other);
            assert!((3.0..=6.0).contains(&ratio), "VI vs {other:?}: {ratio}");
        }
    }

    #[test]
    fn melanin_ordering() {
        for wl in [
            Wavelength::Red630,
            Wavelength::Red660,
            Wavelength::Nir810,
            Wavelength::Nir850,
        ] {
            for pair in SkinType::ALL.windows(2) {
                let (a, b) = (skin_optics(pair[0], wl), skin_optics(pair[1], wl));
                assert!(
                    b.reflectance < a.reflectance && b.epidermal_fraction > a.epidermal_fraction
                );
            }
            let light = skin_optics(SkinType::I, wl).reflectance;
            // domain.md §2.4: 30–60 % for light skin.
            assert!((0.3..=0.6).contains(&light));
        }
    }

    #[test]
    fn penetration_depths_in_domain_ranges() {
        for (wl, lo, hi) in [
            (Wavelength::Red630, 1.5, 2.5),
            (Wavelength::Red660, 1.5, 2.5),
            (Wavelength::Nir810, 2.5, 4.0),
            (Wavelength::Nir850, 2.5, 4.0),
        ] {
            assert!((lo..=hi).contains(&penetration_depth_mm(wl)));
        }
    }

    #[test]
    fn perfusion_matches_domain_table() {
        for (t, omega) in [(SKIN, 0.002), (FAT, 0.0005), (MUSCLE, 0.0007)] {
            assert!(
                (t.omega_b_per_s / omega - 1.0).abs() < OMEGA_1_DIGIT_REL,
                "{t:?}"
            );
            assert!(t.perfusion_w_m3k() > 0.0);
        }
        // domain.md §4.2 [D]: skin effusivity √(kρc) ≈ 1180 W·s^0.5/m²K (printed to 3 digits).
        let e = (SKIN.k_w_mk * SKIN.rho_c_j_m3k()).sqrt();
        assert!((e - 1180.0).abs() < 5.0, "{e}");
    }

    #[test]
    fn zone_layers_in_domain_ranges() {
        for z in Zone::ALL {
            let a = z.anatomy();
            assert!((1.0..=2.0).contains(&a.skin_mm), "{z:?}");
            assert!((2.0..=20.0).contains(&a.fat_mm), "{z:?}");
            assert!(a.area_cm2 > 0.0);
        }
    }
}
