//! The plant facade: device electro-thermal network, skin columns, optics and sensors in one
//! steppable value.
//!
//! This first part is the thermal core: one [`ThermalNetwork`] holding, per domain.md §4.1,
//! junction (per channel) → board → housing → ambient, housing → skin contact surface (contact
//! devices), and two Pennes columns (domain.md §4.2): the *main* column under the whole contact
//! area, driven by the zone-mean light, and a *hot-spot* column under the peak irradiance point,
//! one-way coupled to the housing so the energy accounting stays on the main system while its
//! surface gives the "hottest skin point". The node set never changes; events (placement, cover,
//! fan stall) only change conductances, so a rebuild keeps the temperatures.

use crate::network::{BoundaryId, Discretization, NodeId, SourceId, ThermalNetwork, ThermalState};
use crate::tissue::{
    Bottom, Column, ColumnBoundaries, ColumnSpec, GridSpec, TissueLayer, build_column,
};

/// Skin to room air, still air, convection + radiation, W/(m²·K): domain.md §4.1 table
/// "Skin to room air (still air), total 8–10" \[M\]; the middle of the range.
pub const SKIN_TO_AIR_W_PER_M2K: f64 = 9.0;

/// Insulation a blanket adds over the device's outer area, m²·K/W: domain.md §4.1 "Blanket
/// scenario" (R'' = 0.3 m²K/W, duvet 1.0–1.35 tog ≈ 0.1–0.135 plus trapped air) \[D\].
pub const BLANKET_R_M2K_PER_W: f64 = 0.3;

/// Area of the hot-spot column, m². Its physics is per unit area (every capacity, conductance
/// and source scales with it), so the value only sets magnitudes in the energy flows: 1 cm².
pub const HOT_SPOT_AREA_M2: f64 = 1e-4;

/// The plant's control tick, ms: the cached discretisation's step.
pub const TICK_MS: u64 = 10;

/// Thermal description of a device as the plant network needs it (filled from the device
/// catalog; resistances before tolerance scaling).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceThermal {
    /// Heat capacity of each channel's junction node (all LEDs of the channel), J/K.
    pub junction_c_j_per_k: [f64; 2],
    /// Junction → board resistance of each channel (all LEDs in parallel), K/W.
    pub r_junction_board_k_per_w: [f64; 2],
    /// Board heat capacity, J/K.
    pub board_c_j_per_k: f64,
    /// Board → housing resistance, K/W.
    pub r_board_housing_k_per_w: f64,
    /// Housing (heatsink, silicone, textile) heat capacity, J/K.
    pub housing_c_j_per_k: f64,
    /// Housing → ambient resistance uncovered, natural convection + radiation, K/W.
    pub r_housing_ambient_k_per_w: f64,
    /// Housing → ambient resistance with the fan running (panels), K/W.
    pub r_housing_ambient_fan_k_per_w: Option<f64>,
    /// Housing → skin contact resistance (contact devices), K/W, over `contact_area_m2`.
    pub r_housing_skin_k_per_w: Option<f64>,
    /// Outer (air-facing) area the blanket covers, m².
    pub outer_area_m2: f64,
    /// Skin area under the device: the main column's area, m².
    pub contact_area_m2: f64,
}

/// The conditions that set the network's conductances.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThermalSetup {
    /// The device's housing touches the skin (a contact device placed and not lifted off).
    pub in_contact: bool,
    /// A blanket covers the device.
    pub covered: bool,
    /// The panel fan runs (ignored for devices without a fan).
    pub fan_running: bool,
    /// Multiplies every device thermal resistance (production tolerance).
    pub rth_scale: f64,
    /// Multiplies every tissue layer's perfusion (vasodilation, exercise).
    pub perfusion_scale: f64,
}

/// Where each optical channel's absorbed light goes in tissue (from the skin-type parameters).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Deposition {
    /// Optical penetration depth δ, m (domain.md §2.4).
    pub penetration_depth_m: f64,
    /// Fraction of the absorbed power deposited in the surface node (epidermal melanin).
    pub epidermal_fraction: f64,
}

/// Boundary temperatures, °C, in network order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoundaryTemps {
    /// Room air.
    pub ambient_c: f64,
    /// Arterial blood.
    pub arterial_c: f64,
    /// Core, at the bottom of the columns.
    pub core_c: f64,
}

/// Node and input handles of the plant network.
#[derive(Clone, Debug, PartialEq)]
pub struct ThermalLayout {
    /// Junction node per channel.
    pub junction: [NodeId; 2],
    /// Board node.
    pub board: NodeId,
    /// Housing node.
    pub housing: NodeId,
    /// The main column under the contact area.
    pub main: Column,
    /// The hot-spot column under the peak irradiance.
    pub hot_spot: Column,
    /// LED heat source per channel (input W).
    pub led_heat: [SourceId; 2],
    /// Absorbed light in the main column per channel (input W).
    pub main_light: [SourceId; 2],
    /// Absorbed light in the hot-spot column per channel (input W).
    pub hot_spot_light: [SourceId; 2],
    /// Boundaries of the main system: ambient, arterial, core.
    pub main_boundaries: [BoundaryId; 3],
    /// Boundaries of the hot-spot column (same temperatures, separate accounting).
    pub hot_spot_boundaries: [BoundaryId; 3],
}

/// Number of sources of the plant network: LED heat ×2, main light ×2, hot-spot light ×2,
/// main metabolic, hot-spot metabolic.
pub const SOURCE_COUNT: usize = 8;

/// Number of boundaries: main ambient/arterial/core, hot-spot ambient/arterial/core.
pub const BOUNDARY_COUNT: usize = 6;

/// Builds the plant network for a device, tissue layers and conditions.
pub fn build_thermal_network(
    device: &DeviceThermal,
    layers: &[TissueLayer],
    deposition: &[Deposition; 2],
    setup: &ThermalSetup,
) -> (ThermalNetwork, ThermalLayout) {
    let mut net = ThermalNetwork::new();
    let main_boundaries = [net.add_boundary(), net.add_boundary(), net.add_boundary()];
    let hot_spot_boundaries = [net.add_boundary(), net.add_boundary(), net.add_boundary()];
    let r = setup.rth_scale;
    let junction = [
        net.add_node(device.junction_c_j_per_k[0]),
        net.add_node(device.junction_c_j_per_k[1]),
    ];
    let board = net.add_node(device.board_c_j_per_k);
    let housing = net.add_node(device.housing_c_j_per_k);
    for (j, r_jb) in junction.iter().zip(device.r_junction_board_k_per_w) {
        net.link(*j, board, 1.0 / (r * r_jb));
    }
    net.link(board, housing, 1.0 / (r * device.r_board_housing_k_per_w));
    let r_air = match (setup.fan_running, device.r_housing_ambient_fan_k_per_w) {
        (true, Some(fan)) => fan,
        _ => device.r_housing_ambient_k_per_w,
    };
    let r_cover = if setup.covered {
        BLANKET_R_M2K_PER_W / device.outer_area_m2
    } else {
        0.0
    };
    net.link_boundary(housing, main_boundaries[0], 1.0 / (r * r_air + r_cover));

    let scaled: Vec<TissueLayer> = layers
        .iter()
        .map(|l| TissueLayer {
            perfusion_w_per_m3k: l.perfusion_w_per_m3k * setup.perfusion_scale,
            ..*l
        })
        .collect();
    let column = |net: &mut ThermalNetwork, area_m2: f64, b: &[BoundaryId; 3]| {
        let spec = ColumnSpec {
            layers: scaled.clone(),
            area_m2,
            grid: GridSpec::COARSE,
            bottom: Bottom::Core,
        };
        build_column(
            net,
            &spec,
            ColumnBoundaries {
                arterial: b[1],
                core: b[2],
            },
        )
    };
    let main = column(&mut net, device.contact_area_m2, &main_boundaries);
    let hot_spot = column(&mut net, HOT_SPOT_AREA_M2, &hot_spot_boundaries);
    let contact_g = device
        .r_housing_skin_k_per_w
        .filter(|_| setup.in_contact)
        .map(|rc| 1.0 / (r * rc));
    match contact_g {
        Some(g) => {
            net.link(housing, main.surface(), g);
            net.link_one_way(
                housing,
                hot_spot.surface(),
                g * HOT_SPOT_AREA_M2 / device.contact_area_m2,
            );
        }
        None => {
            net.link_boundary(
                main.surface(),
                main_boundaries[0],
                SKIN_TO_AIR_W_PER_M2K * main.area_m2(),
            );
            net.link_boundary(
                hot_spot.surface(),
                hot_spot_boundaries[0],
                SKIN_TO_AIR_W_PER_M2K * HOT_SPOT_AREA_M2,
            );
            // Keep the flow layout fixed: a zero one-way link.
            net.link_one_way(housing, hot_spot.surface(), 0.0);
        }
    }
    let led_heat = [
        net.add_source(&[(junction[0], 1.0)]),
        net.add_source(&[(junction[1], 1.0)]),
    ];
    let light = |net: &mut ThermalNetwork, col: &Column| {
        [0, 1].map(|c| {
            net.add_source(&col.optical_deposition(
                deposition[c].penetration_depth_m,
                deposition[c].epidermal_fraction,
            ))
        })
    };
    let main_light = light(&mut net, &main);
    let hot_spot_light = light(&mut net, &hot_spot);
    debug_assert_eq!(net.source_count(), SOURCE_COUNT);
    debug_assert_eq!(net.boundary_count(), BOUNDARY_COUNT);
    let layout = ThermalLayout {
        junction,
        board,
        housing,
        main,
        hot_spot,
        led_heat,
        main_light,
        hot_spot_light,
        main_boundaries,
        hot_spot_boundaries,
    };
    (net, layout)
}

/// Per-step inputs of the thermal core.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ThermalInputs {
    /// LED heat per channel, W.
    pub led_heat_w: [f64; 2],
    /// Light absorbed in the main column per channel, W.
    pub main_absorbed_w: [f64; 2],
    /// Light absorbed in the hot-spot column per channel, W.
    pub hot_spot_absorbed_w: [f64; 2],
}

/// The thermal core: network, layout, cached tick discretisation and state.
#[derive(Clone, Debug)]
pub struct ThermalCore {
    net: ThermalNetwork,
    layout: ThermalLayout,
    tick: Discretization,
    state: ThermalState,
    boundary_c: [f64; BOUNDARY_COUNT],
    sources: [f64; SOURCE_COUNT],
}

impl ThermalCore {
    /// Builds the core with the device at ambient and each tissue column at its resting profile
    /// for a surface at `skin_c` (see [`resting_profile`]).
    pub fn new(
        device: &DeviceThermal,
        layers: &[TissueLayer],
        deposition: &[Deposition; 2],
        setup: &ThermalSetup,
        temps: BoundaryTemps,
        skin_c: f64,
    ) -> ThermalCore {
        let (net, layout) = build_thermal_network(device, layers, deposition, setup);
        let mut state = net.uniform_state(temps.ambient_c);
        let scaled: Vec<TissueLayer> = layers
            .iter()
            .map(|l| TissueLayer {
                perfusion_w_per_m3k: l.perfusion_w_per_m3k * setup.perfusion_scale,
                ..*l
            })
            .collect();
        let profile = resting_profile(&scaled, temps, skin_c);
        for col in [&layout.main, &layout.hot_spot] {
            for (node, t) in col.nodes().iter().zip(&profile) {
                state.temps_c[node.index()] = *t;
            }
        }
        let tick = net.discretize(TICK_MS as f64 / 1000.0);
        let mut core = ThermalCore {
            net,
            layout,
            tick,
            state,
            boundary_c: [0.0; BOUNDARY_COUNT],
            sources: [0.0; SOURCE_COUNT],
        };
        core.set_boundaries(temps);
        core
    }

    /// Rebuilds the network for new conditions, keeping every temperature and flow total.
    pub fn rebuild(
        &mut self,
        device: &DeviceThermal,
        layers: &[TissueLayer],
        deposition: &[Deposition; 2],
        setup: &ThermalSetup,
    ) {
        let (net, layout) = build_thermal_network(device, layers, deposition, setup);
        self.tick = net.discretize(TICK_MS as f64 / 1000.0);
        self.net = net;
        self.layout = layout;
    }

    /// Sets the boundary temperatures (both systems get the same values).
    pub fn set_boundaries(&mut self, temps: BoundaryTemps) {
        let t = [temps.ambient_c, temps.arterial_c, temps.core_c];
        for (i, b) in self.layout.main_boundaries.iter().enumerate() {
            self.boundary_c[b.index()] = t[i];
        }
        for (i, b) in self.layout.hot_spot_boundaries.iter().enumerate() {
            self.boundary_c[b.index()] = t[i];
        }
    }

    fn load_sources(&mut self, inputs: &ThermalInputs) {
        let l = &self.layout;
        for c in 0..2 {
            self.sources[l.led_heat[c].index()] = inputs.led_heat_w[c];
            self.sources[l.main_light[c].index()] = inputs.main_absorbed_w[c];
            self.sources[l.hot_spot_light[c].index()] = inputs.hot_spot_absorbed_w[c];
        }
        self.sources[l.main.metabolic().index()] = 1.0;
        self.sources[l.hot_spot.metabolic().index()] = 1.0;
    }

    /// One control tick ([`TICK_MS`]) with `inputs` held constant. Allocation-free.
    pub fn tick(&mut self, inputs: &ThermalInputs) {
        self.load_sources(inputs);
        self.tick
            .step(&mut self.state, &self.boundary_c, &self.sources);
    }

    /// One exact step of any length with `inputs` held constant (builds a discretisation for it).
    pub fn jump(&mut self, dt_s: f64, inputs: &ThermalInputs) {
        self.load_sources(inputs);
        self.net
            .discretize(dt_s)
            .step(&mut self.state, &self.boundary_c, &self.sources);
    }

    /// The network.
    pub fn network(&self) -> &ThermalNetwork {
        &self.net
    }

    /// Node handles.
    pub fn layout(&self) -> &ThermalLayout {
        &self.layout
    }

    /// Temperatures and accumulated flows.
    pub fn state(&self) -> &ThermalState {
        &self.state
    }

    /// Temperature of a node, °C.
    pub fn temp_c(&self, node: NodeId) -> f64 {
        self.state.temp_c(node)
    }

    /// Heat stored in the main system (everything but the hot-spot column) relative to 0 °C, J.
    pub fn main_stored_energy_j(&self) -> f64 {
        let caps = self.net.capacities_j_per_k();
        let t = &self.state.temps_c;
        let hot: f64 = self
            .layout
            .hot_spot
            .nodes()
            .iter()
            .map(|n| caps[n.index()] * t[n.index()])
            .sum();
        self.net.stored_energy_j(t) - hot
    }

    /// Heat that left the main system to (ambient, arterial blood, core) so far, J.
    pub fn main_outflow_j(&self) -> [f64; 3] {
        self.layout
            .main_boundaries
            .map(|b| self.state.flow_j[b.index()])
    }

    /// Metabolic power of the main column, W.
    pub fn main_metabolic_w(&self) -> f64 {
        self.net.source_gain(self.layout.main.metabolic())
    }
}

/// Resting temperature profile (surface first, °C) of a column whose surface sits at `skin_c`:
/// the steady state with the surface exposed to an environment at whatever temperature makes the
/// surface `skin_c` (the steady state is affine in that temperature, so two solves find it).
/// This makes the initial tissue state consistent with Pennes at the given perfusion instead of
/// an arbitrary interpolation.
pub fn resting_profile(layers: &[TissueLayer], temps: BoundaryTemps, skin_c: f64) -> Vec<f64> {
    let mut net = ThermalNetwork::new();
    let arterial = net.add_boundary();
    let core = net.add_boundary();
    let env = net.add_boundary();
    let spec = ColumnSpec {
        layers: layers.to_vec(),
        area_m2: 1.0,
        grid: GridSpec::COARSE,
        bottom: Bottom::Core,
    };
    let col = build_column(&mut net, &spec, ColumnBoundaries { arterial, core });
    net.link_boundary(col.surface(), env, SKIN_TO_AIR_W_PER_M2K);
    let solve = |env_c: f64| {
        net.steady_state(&[temps.arterial_c, temps.core_c, env_c], &[1.0])
            .expect("a column with a core bottom is grounded")
    };
    let (lo, hi) = (solve(0.0), solve(100.0));
    let s = col.surface().index();
    let env_c = 100.0 * (skin_c - lo[s]) / (hi[s] - lo[s]);
    solve(env_c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tissue::perfusion_w_per_m3k;

    /// The brief's energy-accounting tolerance: 0.1 % of the energy put in.
    const ENERGY_BALANCE_REL: f64 = 1e-3;

    /// A long exact jump against 10 ms ticks: each tick is exact, so they differ by the roundoff
    /// of ~6000 products plus the rate quantisation of scaling and squaring (network.rs), ≪ 1 mK.
    const JUMP_VS_TICKS_K: f64 = 1e-6;

    /// The resting profile interpolates two LU steady solves: exact up to their roundoff (~1e-13 K
    /// for a ~15-node column), with margin.
    const STEADY_SOLVE_K: f64 = 1e-9;

    /// A wrap-like device for the core tests (illustrative numbers, not the catalog's).
    fn wrap() -> DeviceThermal {
        DeviceThermal {
            junction_c_j_per_k: [0.05, 0.05],
            r_junction_board_k_per_w: [0.5, 0.5],
            board_c_j_per_k: 60.0,
            r_board_housing_k_per_w: 0.2,
            housing_c_j_per_k: 330.0,
            r_housing_ambient_k_per_w: 2.2,
            r_housing_ambient_fan_k_per_w: None,
            r_housing_skin_k_per_w: Some(0.25),
            outer_area_m2: 0.045,
            contact_area_m2: 0.045,
        }
    }

    /// Skin / fat / muscle from domain.md §4.2 (k, ρ, c; ω 0.002 / 0.0005 / 0.0007; q_m mid-range).
    fn layers() -> Vec<TissueLayer> {
        let layer = |t: f64, k: f64, rho: f64, c: f64, omega: f64, qm: f64| TissueLayer {
            thickness_m: t,
            k_w_per_mk: k,
            rho_kg_per_m3: rho,
            c_j_per_kgk: c,
            perfusion_w_per_m3k: perfusion_w_per_m3k(omega),
            metabolic_w_per_m3: qm,
        };
        vec![
            layer(1.5e-3, 0.37, 1109.0, 3391.0, 0.002, 1000.0),
            layer(5e-3, 0.21, 911.0, 2348.0, 0.0005, 500.0),
            layer(23.5e-3, 0.49, 1090.0, 3421.0, 0.0007, 800.0),
        ]
    }

    const DEPOSITION: [Deposition; 2] = [
        Deposition {
            penetration_depth_m: 2e-3,
            epidermal_fraction: 0.1,
        },
        Deposition {
            penetration_depth_m: 3.5e-3,
            epidermal_fraction: 0.05,
        },
    ];

    const TEMPS: BoundaryTemps = BoundaryTemps {
        ambient_c: 25.0,
        arterial_c: 37.0,
        core_c: 37.0,
    };

    fn setup() -> ThermalSetup {
        ThermalSetup {
            in_contact: true,
            covered: false,
            fan_running: false,
            rth_scale: 1.0,
            perfusion_scale: 1.0,
        }
    }

    fn core() -> ThermalCore {
        ThermalCore::new(&wrap(), &layers(), &DEPOSITION, &setup(), TEMPS, 33.0)
    }

    const SESSION: ThermalInputs = ThermalInputs {
        led_heat_w: [6.0, 7.0],
        main_absorbed_w: [2.0, 2.0],
        hot_spot_absorbed_w: [0.02, 0.02],
    };

    #[test]
    fn resting_profile_has_the_requested_surface_and_warms_with_depth() {
        let p = resting_profile(&layers(), TEMPS, 33.0);
        assert!((p[0] - 33.0).abs() < STEADY_SOLVE_K, "{}", p[0]);
        assert!(p.windows(2).all(|w| w[1] >= w[0]), "{p:?}");
        assert!(*p.last().expect("nodes") > 36.0);
    }

    #[test]
    fn session_energy_balances_on_the_main_system() {
        let mut c = core();
        let e0 = c.main_stored_energy_j();
        let ticks = 10 * 60 * 100;
        for _ in 0..ticks {
            c.tick(&SESSION);
        }
        let dt = ticks as f64 * TICK_MS as f64 / 1000.0;
        let energy_in = (SESSION.led_heat_w.iter().sum::<f64>()
            + SESSION.main_absorbed_w.iter().sum::<f64>()
            + c.main_metabolic_w())
            * dt;
        let out: f64 = c.main_outflow_j().iter().sum();
        let stored = c.main_stored_energy_j() - e0;
        assert!(
            ((energy_in - out - stored) / energy_in).abs() < ENERGY_BALANCE_REL,
            "{energy_in} vs {out} + {stored}"
        );
        // And the session warmed the skin under the device and the hot spot.
        assert!(c.temp_c(c.layout().main.surface()) > 34.0);
    }

    #[test]
    fn idle_jump_equals_ticks() {
        let mut a = core();
        let mut b = core();
        let idle = ThermalInputs::default();
        for _ in 0..6000 {
            a.tick(&idle);
        }
        b.jump(60.0, &idle);
        for (x, y) in a.state().temps_c.iter().zip(&b.state().temps_c) {
            assert!((x - y).abs() < JUMP_VS_TICKS_K, "{x} vs {y}");
        }
    }

    #[test]
    fn cover_and_contact_change_conductances_but_keep_temperatures() {
        let mut c = core();
        for _ in 0..1000 {
            c.tick(&SESSION);
        }
        let before = c.state().temps_c.clone();
        c.rebuild(
            &wrap(),
            &layers(),
            &DEPOSITION,
            &ThermalSetup {
                covered: true,
                ..setup()
            },
        );
        assert_eq!(before, c.state().temps_c);
        // Covered, the same heat raises the housing more over a minute.
        let mut open = c.clone();
        open.rebuild(&wrap(), &layers(), &DEPOSITION, &setup());
        c.jump(600.0, &SESSION);
        open.jump(600.0, &SESSION);
        assert!(c.temp_c(c.layout().housing) > open.temp_c(open.layout().housing) + 0.5);
    }
}
