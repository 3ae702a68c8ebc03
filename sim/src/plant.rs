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

use crate::body::{FAT, MUSCLE, SKIN, SkinType, TissueProps, Zone, skin_optics};
use crate::cem43::{Cem43, LinearDoseMemo};
use crate::device::{
    self, DeviceKind, DeviceSpec, MAX_CHANNELS, MAX_CONTACT_NTCS, MAX_STRINGS, STRINGS_PER_CHANNEL,
};
use crate::led::{Drive as LedDrive, StringOperatingPoint, T_REF_C, Wavelength};
use crate::network::{
    BoundaryId, Discretization, HeldInputStep, HeldJump, JumpBasis, NodeId, PendingFlows, SourceId,
    ThermalNetwork, ThermalState,
};
use crate::optics::{Placement, SkinGrid, StringMaps, ZoneStats};
use crate::sensors::{
    NTC_NOISE_LSB, NoiseRng, Ntc, NtcConfig, NtcFault, NtcTolerance, noisy_codes, standard_normals,
    string_current_code, string_voltage_code, supply_code,
};
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

/// [`TICK_MS`] in seconds (the same bits as the division at run time).
pub const TICK_S: f64 = TICK_MS as f64 / 1000.0;

/// Control ticks per thermal update: the thermal network advances once per 100 ms of ticks, with
/// the LED heat and absorbed light of those ticks averaged (the same energy, spread evenly).
///
/// Why this is safe: an NTC count is ~0.03 K (domain.md §6.5 table: ≥ 30 counts/K near skin
/// temperatures) and the thermistors lag with τ of seconds, so the firmware cannot see a 100 ms
/// hold. The fastest node, an LED junction lump (τ = R·C = 0.17–0.45 s in the catalog: 0.03 J/K
/// per package over 5.8–15 K/W), lags its heat by at most one period, and its temperature only
/// scales the LED output by k_Φ ≈ −0.3 %/K. Measured against per-tick updates on the 28 library
/// scenarios: every verdict the same, peak skin within 5 mK, fluence within 0.02 %, peak junction
/// within 0.11 K (it is sampled once per period). The optical side (emission, fluence, the sense currents and voltages) still
/// follows every tick exactly. The period is a whole number of ticks, so the discretisation
/// stays exact for the averaged input; a change of the plant (placement, contact, ambient, a
/// fault) or a step of another length first brings the thermal state up to date over the ticks
/// pending, one exact tick at a time. Between updates, temperatures read as of the last one.
pub const THERMAL_PERIOD_TICKS: u32 = 10;

/// How many non-tick steps (length and inputs) the thermal core keeps discretised per network.
pub const JUMP_CACHE: usize = 8;

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

/// The two step lengths the thermal core keeps a held-input discretisation for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeldLength {
    /// One control tick, [`TICK_MS`].
    Tick = 0,
    /// One thermal period, [`THERMAL_PERIOD_TICKS`] ticks.
    Period = 1,
}

impl HeldLength {
    fn seconds(self) -> f64 {
        let ticks = match self {
            HeldLength::Tick => 1,
            HeldLength::Period => u64::from(THERMAL_PERIOD_TICKS),
        };
        (ticks * TICK_MS) as f64 / 1000.0
    }
}

/// How many recently used networks the thermal core keeps with their discretisations: the
/// configurations a week cycles through (placed on a calf or a thigh, in contact or lifted,
/// removed) recur, and each rebuild back to one of them then costs no matrix exponential. So do
/// the post-training skin states: two trainings of the same intensity decay through the same 13
/// perfusions (the runner week's easy runs on days 1 and 5), whose networks, jump bases and rest
/// wakes are then found again if the cache still holds them (6 networks: 1.758 G instructions a
/// runner week; 32: 1.739 G, peak memory 7.3 → 7.8 MB).
pub const NETWORK_CACHE: usize = 32;

/// One network with the discretisations built for it so far.
#[derive(Clone, Debug)]
struct Discretised {
    net: ThermalNetwork,
    layout: ThermalLayout,
    /// The discretisations of the control tick and of the thermal period ([`HeldLength`]),
    /// each built on its first use (an idle stretch between two rebuilds, as after a
    /// post-training skin-state change, never needs them).
    held: [Option<Discretization>; 2],
    /// Discretisations of recent non-tick steps (the firmware's rest wake, say) for their
    /// inputs, so a repeated idle step costs a matrix-vector product, not a matrix exponential.
    /// A cache hit gives the same bits as a fresh build.
    jumps: Vec<HeldJump>,
    /// The network's parts and modes, from which each jump length is made; built on the first
    /// jump.
    basis: Option<JumpBasis>,
}

/// The thermal core: network, layout, cached discretisations and state.
#[derive(Clone, Debug)]
pub struct ThermalCore {
    current: Discretised,
    /// Networks used before, most recent last (at most [`NETWORK_CACHE`] − 1).
    recent: Vec<Discretised>,
    /// The tick and the period ([`HeldLength`]) specialised to the present boundaries and
    /// metabolic heat; `None` when stale.
    held: [Option<HeldInputStep>; 2],
    /// Steps whose heat flows each `held` step has not yet added to `state.flow_j`.
    pending: [PendingFlows; 2],
    /// The cached jump (index into the current network's jumps) whose heat flows are pending in
    /// `jump_pending`: at rest the same 60 s jump repeats, and its flows are linear in the
    /// starting state, so they are applied once to the sum of the starts.
    jump_at: Option<usize>,
    jump_pending: PendingFlows,
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
        let mut core = ThermalCore {
            current: Discretised {
                net,
                layout,
                held: [None, None],
                jumps: Vec::new(),
                basis: None,
            },
            recent: Vec::new(),
            held: [None, None],
            pending: Default::default(),
            jump_at: None,
            jump_pending: PendingFlows::default(),
            state,
            boundary_c: [0.0; BOUNDARY_COUNT],
            sources: [0.0; SOURCE_COUNT],
        };
        core.set_boundaries(temps);
        core
    }

    /// Rebuilds the network for new conditions, keeping every temperature and flow total. A
    /// network equal to the present one changes nothing; one used recently comes back with its
    /// discretisations.
    pub fn rebuild(
        &mut self,
        device: &DeviceThermal,
        layers: &[TissueLayer],
        deposition: &[Deposition; 2],
        setup: &ThermalSetup,
    ) {
        let (net, layout) = build_thermal_network(device, layers, deposition, setup);
        if net == self.current.net {
            return;
        }
        self.settle_flows();
        self.held = [None, None];
        let next = match self.recent.iter().position(|d| d.net == net) {
            Some(i) => self.recent.remove(i),
            None => Discretised {
                net,
                layout,
                held: [None, None],
                jumps: Vec::new(),
                basis: None,
            },
        };
        let previous = std::mem::replace(&mut self.current, next);
        if self.recent.len() + 1 >= NETWORK_CACHE {
            self.recent.remove(0);
        }
        self.recent.push(previous);
    }

    /// Adds every pending heat flow, the ticks' and the jumps', to the state's accumulators.
    fn settle_flows(&mut self) {
        self.settle_tick_flows();
        self.settle_jump_flows();
    }

    /// Adds the pending ticks' and periods' heat flows to the state's accumulators.
    fn settle_tick_flows(&mut self) {
        for (h, p) in self.held.iter().zip(&mut self.pending) {
            if let Some(h) = h {
                h.flush(p, &mut self.state);
            }
        }
    }

    /// Adds the pending jumps' heat flows to the state's accumulators.
    fn settle_jump_flows(&mut self) {
        if let Some(i) = self.jump_at.take() {
            self.current.jumps[i].flush(&mut self.jump_pending, &mut self.state);
        }
    }

    /// Sets both tissue columns to `profile` (surface first, °C).
    pub fn set_column_profile(&mut self, profile: &[f64]) {
        let l = &self.current.layout;
        for col in [&l.main, &l.hot_spot] {
            for (node, t) in col.nodes().iter().zip(profile) {
                self.state.temps_c[node.index()] = *t;
            }
        }
    }

    /// Sets the boundary temperatures (both systems get the same values).
    pub fn set_boundaries(&mut self, temps: BoundaryTemps) {
        let t = [temps.ambient_c, temps.arterial_c, temps.core_c];
        let mut boundary_c = [0.0; BOUNDARY_COUNT];
        let l = &self.current.layout;
        for (i, b) in l.main_boundaries.iter().enumerate() {
            boundary_c[b.index()] = t[i];
        }
        for (i, b) in l.hot_spot_boundaries.iter().enumerate() {
            boundary_c[b.index()] = t[i];
        }
        if boundary_c != self.boundary_c {
            self.settle_flows();
            self.held = [None, None];
            self.boundary_c = boundary_c;
        }
    }

    fn load_sources(&mut self, inputs: &ThermalInputs) {
        let l = &self.current.layout;
        for c in 0..2 {
            self.sources[l.led_heat[c].index()] = inputs.led_heat_w[c];
            self.sources[l.main_light[c].index()] = inputs.main_absorbed_w[c];
            self.sources[l.hot_spot_light[c].index()] = inputs.hot_spot_absorbed_w[c];
        }
        self.sources[l.main.metabolic().index()] = 1.0;
        self.sources[l.hot_spot.metabolic().index()] = 1.0;
    }

    /// The per-tick sources, in the order the held tick takes them.
    fn varying_sources(l: &ThermalLayout) -> [SourceId; 6] {
        [
            l.led_heat[0],
            l.led_heat[1],
            l.main_light[0],
            l.main_light[1],
            l.hot_spot_light[0],
            l.hot_spot_light[1],
        ]
    }

    /// One control tick ([`TICK_MS`]) with `inputs` held constant. Allocation-free once the
    /// network's tick is discretised.
    pub fn tick(&mut self, inputs: &ThermalInputs) {
        self.held_step(HeldLength::Tick, inputs);
    }

    /// One thermal period ([`THERMAL_PERIOD_TICKS`] ticks) with `inputs` held constant: the same
    /// cost as one tick. Allocation-free once the network's period is discretised.
    pub fn period(&mut self, inputs: &ThermalInputs) {
        self.held_step(HeldLength::Period, inputs);
    }

    fn held_step(&mut self, length: HeldLength, inputs: &ThermalInputs) {
        let k = length as usize;
        if self.held[k].is_none() {
            let cur = &mut self.current;
            let disc = cur.held[k].get_or_insert_with(|| cur.net.discretize(length.seconds()));
            let mut held_sources = [0.0; SOURCE_COUNT];
            held_sources[cur.layout.main.metabolic().index()] = 1.0;
            held_sources[cur.layout.hot_spot.metabolic().index()] = 1.0;
            self.held[k] = Some(disc.with_held_inputs(
                &self.boundary_c,
                &held_sources,
                &Self::varying_sources(&cur.layout),
            ));
        }
        let varying = [
            inputs.led_heat_w[0],
            inputs.led_heat_w[1],
            inputs.main_absorbed_w[0],
            inputs.main_absorbed_w[1],
            inputs.hot_spot_absorbed_w[0],
            inputs.hot_spot_absorbed_w[1],
        ];
        if let Some(h) = &self.held[k] {
            h.step(&mut self.state, &varying, &mut self.pending[k]);
        }
    }

    /// One exact step of any length with `inputs` held constant; the discretisation for `dt_s`
    /// is built once and kept among the last [`JUMP_CACHE`] lengths used.
    pub fn jump(&mut self, dt_s: f64, inputs: &ThermalInputs) {
        // The jump's own pending flows stay pending if the same jump repeats (below).
        self.settle_tick_flows();
        self.load_sources(inputs);
        let (b, src) = (&self.boundary_c, &self.sources);
        let found = self
            .current
            .jumps
            .iter()
            .position(|d| d.is_for(dt_s, b, src));
        if found != self.jump_at {
            self.settle_jump_flows();
        }
        let cur = &mut self.current;
        let i = match found {
            Some(i) => i,
            None => {
                if cur.jumps.len() == JUMP_CACHE {
                    cur.jumps.remove(0);
                }
                let basis = cur.basis.get_or_insert_with(|| cur.net.jump_basis());
                cur.jumps
                    .push(basis.discretize_held(dt_s, &self.boundary_c, &self.sources));
                cur.jumps.len() - 1
            }
        };
        cur.jumps[i].step(&mut self.state, &mut self.jump_pending);
        self.jump_at = Some(i);
    }

    /// The network.
    pub fn network(&self) -> &ThermalNetwork {
        &self.current.net
    }

    /// Node handles.
    pub fn layout(&self) -> &ThermalLayout {
        &self.current.layout
    }

    /// Temperatures and accumulated flows. The flows of control ticks since the last rebuild,
    /// jump or boundary change are still pending (see [`ThermalCore::main_outflow_j`], which
    /// includes them).
    pub fn state(&self) -> &ThermalState {
        &self.state
    }

    /// Temperature of a node, °C.
    pub fn temp_c(&self, node: NodeId) -> f64 {
        self.state.temp_c(node)
    }

    /// Heat stored in the main system (everything but the hot-spot column) relative to 0 °C, J.
    pub fn main_stored_energy_j(&self) -> f64 {
        let caps = self.current.net.capacities_j_per_k();
        let t = &self.state.temps_c;
        let hot: f64 = self
            .current
            .layout
            .hot_spot
            .nodes()
            .iter()
            .map(|n| caps[n.index()] * t[n.index()])
            .sum();
        self.current.net.stored_energy_j(t) - hot
    }

    /// Heat that left the main system to (ambient, arterial blood, core) so far, J.
    pub fn main_outflow_j(&self) -> [f64; 3] {
        self.current.layout.main_boundaries.map(|b| {
            let jumps = self.jump_at.map_or(0.0, |i| {
                self.current.jumps[i].pending_flow_j(&self.jump_pending, b.index())
            });
            self.state.flow_j[b.index()]
                + self
                    .held
                    .iter()
                    .zip(&self.pending)
                    .filter_map(|(h, p)| h.as_ref().map(|h| h.pending_flow_j(p, b.index())))
                    .sum::<f64>()
                + jumps
        })
    }

    /// Metabolic power of the main column, W.
    pub fn main_metabolic_w(&self) -> f64 {
        self.current
            .net
            .source_gain(self.current.layout.main.metabolic())
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

// ---------------------------------------------------------------------------------------------
// The facade.
// ---------------------------------------------------------------------------------------------

/// Which thermistor a fault targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NtcId {
    /// Contact NTC 0 (on the hot-spot skin surface).
    Contact0,
    /// Contact NTC 1 (on the mean contact surface).
    Contact1,
    /// The LED-board NTC.
    Board,
}

/// A fault injected into the plant (domain.md §6.3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlantFault {
    /// A thermistor fault.
    Ntc {
        /// Which thermistor.
        sensor: NtcId,
        /// What is wrong with it.
        fault: NtcFault,
    },
    /// Global string `s` is open: no current, its voltage sense reads the LED rail.
    StringOpen(usize),
    /// `leds` emitters of string `string` are shorted: they drop ~0 V and emit nothing.
    StringShort {
        /// Global string index.
        string: usize,
        /// Shorted emitters.
        leds: u8,
    },
    /// The driver of string `s` conducts whatever the PWM says, unless `hw_enable` is false.
    DriverStuckOn(usize),
    /// The panel fan stops: the housing falls back to natural convection.
    FanStall,
}

/// A change of the plant's situation, applied between steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlantChange {
    /// Put the device on (contact) or in front of (panel) a zone; `distance_mm` is used by
    /// non-contact devices (contact devices sit at their standoff).
    Place {
        /// Treated zone.
        zone: Zone,
        /// LED plane to skin, mm (panels; worn devices sit at their standoff).
        distance_mm: f64,
    },
    /// Take the device away (placement forgotten).
    Remove,
    /// Lift the device off the skin briefly (placement kept).
    LiftOff,
    /// Put a lifted device back.
    PutBack,
    /// Cover the device with a blanket (true) or uncover it.
    Cover(bool),
    /// New ambient temperature, °C.
    Ambient(f64),
    /// New skin state (after training): surface °C and perfusion multiplier. Bare skin is reset to
    /// rest at that surface temperature; under a device only the perfusion changes.
    SkinState {
        /// Skin surface temperature, °C.
        skin_c: f64,
        /// Perfusion multiplier.
        perfusion_scale: f64,
    },
    /// Eye shields worn (masks).
    EyeShields(bool),
    /// Inject a fault.
    Fault(PlantFault),
    /// Clear every injected fault.
    ClearFaults,
    /// Supply lost (true) or restored.
    PowerLoss(bool),
}

/// Production tolerances; `Default` is nominal (all 1.0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    /// Multiplies every LED's optical output (heat takes the rest of the electrical power).
    pub led_efficiency_scale: f64,
    /// Multiplies the NTCs' R25.
    pub ntc_r25_scale: f64,
    /// Multiplies the NTCs' B.
    pub ntc_beta_scale: f64,
    /// Multiplies every device thermal resistance.
    pub rth_scale: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            led_efficiency_scale: 1.0,
            ntc_r25_scale: 1.0,
            ntc_beta_scale: 1.0,
            rth_scale: 1.0,
        }
    }
}

/// The user's body.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BodyConfig {
    /// Fitzpatrick skin type (sets reflectance and epidermal absorption).
    pub skin_type: SkinType,
    /// Perfusion multiplier on every layer (1 = rest).
    pub perfusion_scale: f64,
    /// Arterial (and core) temperature, °C.
    pub arterial_c: f64,
    /// Skin surface temperature at the start, °C (baseline or post-exercise).
    pub skin_c: f64,
}

/// Everything that fixes a plant at construction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlantConfig {
    /// Device from the catalog.
    pub device: DeviceKind,
    /// The user's body.
    pub body: BodyConfig,
    /// Room temperature, °C.
    pub ambient_c: f64,
    /// Production tolerances.
    pub tolerances: Tolerances,
    /// Seed of the sensor-noise generator.
    pub noise_seed: u64,
}

/// What the firmware commands (mirrors the firmware's output frame).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drive {
    /// PWM duty per channel, ‰.
    pub duty_permille: [u16; MAX_CHANNELS],
    /// Current set-point per string of each channel, mA.
    pub current_ma: [u16; MAX_CHANNELS],
    /// Hardware enable (the independent second switch).
    pub hw_enable: bool,
}

/// What the firmware's inputs read (raw counts and digital inputs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readings {
    /// Contact NTC codes.
    pub contact_ntc: [u16; MAX_CONTACT_NTCS],
    /// Board NTC code.
    pub board_ntc: u16,
    /// String current sense codes.
    pub string_current: [u16; MAX_STRINGS],
    /// String voltage sense codes.
    pub string_voltage: [u16; MAX_STRINGS],
    /// Supply voltage code.
    pub supply: u16,
    /// Skin-contact sensor.
    pub skin_contact: bool,
    /// Eye shields detected.
    pub eye_shield: bool,
    /// Fan tachometer OK.
    pub fan_ok: bool,
    /// Distance sensor, mm (0 without a sensor or nothing in range).
    pub distance_mm: u16,
}

/// Zone statistics of one channel, mW/cm² or J/cm².
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ChannelStats {
    /// Zone mean.
    pub mean: f64,
    /// Zone minimum.
    pub min: f64,
    /// Zone maximum.
    pub max: f64,
}

/// Plant truth for the properties.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Truth {
    /// Hottest skin surface (the hot-spot column), °C.
    pub hottest_skin_c: f64,
    /// Mean contact-skin surface (the main column), °C.
    pub contact_skin_c: f64,
    /// Junction per channel, °C.
    pub junction_c: [f64; MAX_CHANNELS],
    /// Board, °C.
    pub board_c: f64,
    /// Housing, °C.
    pub housing_c: f64,
    /// Zone irradiance per channel at the present drive, mW/cm².
    pub irradiance: [ChannelStats; MAX_CHANNELS],
    /// Accumulated zone fluence per channel, J/cm².
    pub fluence: [ChannelStats; MAX_CHANNELS],
    /// Accumulated optical energy on the zone per channel, J.
    pub zone_energy_j: [f64; MAX_CHANNELS],
    /// CEM43 at the hottest skin point, minutes.
    pub cem43_min: f64,
    /// Any optical output.
    pub emitting: bool,
    /// NIR irradiance at the eye (masks; 0 with shields or without eye points), mW/cm².
    pub eye_nir_mw_cm2: f64,
    /// Electrical energy drawn by the LEDs, J.
    pub electrical_j: f64,
}

/// The per-step scalars of plant truth (see [`Plant::probe`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Probe {
    /// Hottest skin surface point (hot-spot column surface), °C.
    pub hottest_skin_c: f64,
    /// Mean contact-skin surface (main column surface), °C.
    pub contact_skin_c: f64,
    /// Junction temperature per channel, °C.
    pub junction_c: [f64; MAX_CHANNELS],
    /// LED board, °C.
    pub board_c: f64,
    /// Zone-mean irradiance per channel at the present drive, mW/cm².
    pub irradiance_mean_mw_cm2: [f64; MAX_CHANNELS],
    /// Zone-mean fluence per channel accumulated since construction or `start_session`, J/cm².
    pub fluence_mean_j_cm2: [f64; MAX_CHANNELS],
    /// CEM43 at the hottest skin point, minutes.
    pub cem43_min: f64,
    /// Any optical output.
    pub emitting: bool,
    /// Any NIR string emitting.
    pub nir_emitting: bool,
    /// NIR irradiance at the eye (masks), mW/cm².
    pub eye_nir_mw_cm2: f64,
}

/// Per-string dose accumulators at an instant (see [`Plant::dose_snapshot`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DoseSnapshot {
    factor_seconds: [f64; MAX_STRINGS],
}

/// Fluence delivered onto the zone over an interval (see [`Plant::fluence_since`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SessionDose {
    /// Zone-mean fluence, all channels, J/cm².
    pub mean_j_cm2: f64,
    /// Zone-minimum fluence (the cold spot), J/cm².
    pub min_j_cm2: f64,
    /// Zone-maximum fluence (the hot spot), J/cm².
    pub max_j_cm2: f64,
    /// Zone-mean fluence per channel, J/cm².
    pub channel_mean_j_cm2: [f64; MAX_CHANNELS],
    /// Optical energy onto the zone, J.
    pub energy_j: f64,
}

/// Energy bookkeeping of the main system since construction, J.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EnergyLedger {
    /// Electrical energy into the LEDs.
    pub electrical_j: f64,
    /// Optical energy emitted by the LEDs.
    pub optical_emitted_j: f64,
    /// Optical energy absorbed in the main column.
    pub optical_absorbed_j: f64,
    /// Metabolic heat of the main column.
    pub metabolic_j: f64,
    /// Change of heat stored in the main system.
    pub stored_change_j: f64,
    /// Heat to ambient, arterial blood and core (from the exact state integral).
    pub outflow_j: [f64; 3],
}

/// What the control ticks since the last thermal update put in: their thermal inputs and LED
/// powers, summed (see [`THERMAL_PERIOD_TICKS`]).
#[derive(Clone, Copy, Debug, Default)]
struct PendingTicks {
    ticks: u32,
    inputs: ThermalInputs,
    electrical_w: f64,
    optical_w: f64,
}

/// Noise-free codes of the electrical sense channels. They change only with the drive, a fault
/// or the supply, all of which re-evaluate the LEDs, so the read every tick only adds noise.
#[derive(Clone, Copy, Debug, Default)]
struct SenseCodes {
    string_current: [u16; MAX_STRINGS],
    string_voltage: [u16; MAX_STRINGS],
    /// `None` with the supply lost.
    supply: Option<u16>,
}

/// Sense channels with noise, one standard normal draw each per read, in this order: contact
/// NTCs, board NTC, string currents, string voltages, supply. Every read draws them all, whatever
/// the device has, so the noise a channel gets never depends on another channel.
const SENSE_CHANNELS: usize = NTC_CHANNELS + 2 * MAX_STRINGS + 1;

/// The thermistor channels, first in the draw order: the contact NTCs, then the board's.
const NTC_CHANNELS: usize = MAX_CONTACT_NTCS + 1;

/// The simulated device and body.
#[derive(Clone, Debug)]
pub struct Plant {
    spec: DeviceSpec,
    cfg: PlantConfig,
    device_thermal: DeviceThermal,
    layers: Vec<TissueLayer>,
    deposition: [Deposition; 2],
    reflectance: [f64; 2],
    core: ThermalCore,
    /// The optics of the present placement.
    optics: PlacedOptics,
    /// The optics of earlier placements, most recent last (at most [`PLACEMENT_CACHE`] − 1).
    earlier_optics: Vec<PlacedOptics>,
    zone: Option<Zone>,
    distance_cm: f64,
    lifted: bool,
    covered: bool,
    eye_shields: bool,
    fan_stalled: bool,
    power_lost: bool,
    ambient_c: f64,
    perfusion_scale: f64,
    open: [bool; MAX_STRINGS],
    shorted: [u8; MAX_STRINGS],
    stuck_on: [bool; MAX_STRINGS],
    drive: Drive,
    ntc: [Ntc; NTC_CHANNELS],
    rng: NoiseRng,
    ref_flux_w: [f64; MAX_STRINGS],
    string_is_nir: [bool; MAX_STRINGS],
    factor: [f64; MAX_STRINGS],
    string_op: [StringOperatingPoint; MAX_STRINGS],
    /// Thermal inputs of the last LED evaluation while still valid (no step since).
    led_inputs: Option<ThermalInputs>,
    /// Control ticks since the last thermal update (see [`THERMAL_PERIOD_TICKS`]).
    pending: PendingTicks,
    /// Noise-free codes of the electrical sense channels, as of the last LED evaluation.
    sense_codes: SenseCodes,
    factor_seconds: [f64; MAX_STRINGS],
    cem43: Cem43,
    /// The hot spot's last CEM43 step, kept for the next identical one.
    cem43_memo: LinearDoseMemo,
    ledger: EnergyLedger,
    initial_stored_j: f64,
}

/// Tissue layers for a zone: skin and fat from the zone anatomy, muscle below to 30 mm
/// (domain.md §4.2: core at depth; 30 mm keeps the coarse grid near 12 nodes per column).
fn zone_layers(zone: Zone) -> Vec<TissueLayer> {
    let a = zone.anatomy();
    let layer = |t_m: f64, p: TissueProps| TissueLayer {
        thickness_m: t_m,
        k_w_per_mk: p.k_w_mk,
        rho_kg_per_m3: p.rho_kg_m3,
        c_j_per_kgk: p.c_j_kgk,
        perfusion_w_per_m3k: p.perfusion_w_m3k(),
        metabolic_w_per_m3: p.q_m_w_m3,
    };
    let skin_m = a.skin_mm * 1e-3;
    let fat_m = a.fat_mm * 1e-3;
    vec![
        layer(skin_m, SKIN),
        layer(fat_m, FAT),
        layer((COLUMN_DEPTH_M - skin_m - fat_m).max(5e-3), MUSCLE),
    ]
}

/// Depth of the tissue columns, m: deep enough that the core boundary is ≥ 1/m of muscle
/// (~16 mm at rest, domain.md §4.3) below the fat.
pub const COLUMN_DEPTH_M: f64 = 0.03;

/// What a placement fixes of the optics: the reference maps with their statistics and channel
/// peaks, and the irradiance at the eye points. A week places the same device at the same
/// distance session after session; computing the maps again (a 16 × 16 grid of every LED's beam:
/// `StringMaps::compute`, 21.9 M of a runner week's 1.809 G instructions) at every placement was
/// 1.2 % of the week, so they are kept, keyed by the placement's bits (the same bits give the same
/// maps).
#[derive(Clone, Debug)]
struct PlacedOptics {
    key: [u64; 3],
    maps: StringMaps,
    map_stats: [ZoneStats; MAX_STRINGS],
    /// Peak over the grid of each channel's two string maps added (both strings driven alike,
    /// the normal case), so the hot-spot source needs no grid pass per step.
    channel_peak: [f64; MAX_CHANNELS],
    eye: Vec<[f64; MAX_STRINGS]>,
}

/// Placements whose optics a plant keeps, the present one included.
const PLACEMENT_CACHE: usize = 4;

impl PlacedOptics {
    fn key(placement: Placement) -> [u64; 3] {
        [
            placement.distance_cm.to_bits(),
            placement.offset_x_cm.to_bits(),
            placement.offset_y_cm.to_bits(),
        ]
    }

    fn compute(spec: &DeviceSpec, placement: Placement) -> PlacedOptics {
        let maps = spec.reference_maps(placement);
        PlacedOptics {
            key: PlacedOptics::key(placement),
            map_stats: core::array::from_fn(|s| maps.per_string[s].stats()),
            channel_peak: channel_peaks(&maps),
            eye: spec.eye_irradiance(placement),
            maps,
        }
    }
}

/// Peak of each channel's string maps added, over the grid.
fn channel_peaks(maps: &StringMaps) -> [f64; MAX_CHANNELS] {
    core::array::from_fn(|c| {
        let (a, b) = (c * STRINGS_PER_CHANNEL, c * STRINGS_PER_CHANNEL + 1);
        maps.per_string[a]
            .mw_cm2
            .iter()
            .zip(&maps.per_string[b].mw_cm2)
            .map(|(x, y)| x + y)
            .fold(0.0, f64::max)
    })
}

/// Zone used for the tissue before the device is placed anywhere.
const DEFAULT_ZONE: Zone = Zone::LeftCalf;

impl Plant {
    /// A plant with the device off the body, everything at rest.
    pub fn new(cfg: &PlantConfig) -> Plant {
        let spec = device::spec(cfg.device);
        let t = spec.thermal;
        let grid_area_m2 = spec.skin_grid.width_cm * spec.skin_grid.height_cm * 1e-4;
        let present = |c: usize| spec.channels.get(c).is_some();
        // An absent channel gets a stand-in junction node with no path and no power.
        let device_thermal = DeviceThermal {
            junction_c_j_per_k: [0, 1].map(|c| {
                if present(c) {
                    t.junction_c_j_per_k[c]
                } else {
                    1.0
                }
            }),
            r_junction_board_k_per_w: [0, 1].map(|c| {
                if present(c) {
                    t.junction_board_r_k_per_w[c]
                } else {
                    f64::INFINITY
                }
            }),
            board_c_j_per_k: t.board_c_j_per_k,
            r_board_housing_k_per_w: t.board_housing_r_k_per_w,
            housing_c_j_per_k: t.housing_c_j_per_k,
            r_housing_ambient_k_per_w: t.housing_ambient_r_k_per_w,
            r_housing_ambient_fan_k_per_w: t.housing_ambient_fan_r_k_per_w,
            r_housing_skin_k_per_w: t.housing_skin_r_k_per_w,
            outer_area_m2: t.outer_area_m2,
            contact_area_m2: if t.skin_area_m2 > 0.0 {
                t.skin_area_m2
            } else {
                grid_area_m2
            },
        };
        let optics = [0, 1].map(|c| {
            let wl = spec
                .channels
                .get(c)
                .map_or(Wavelength::Nir850, |ch| ch.wavelength);
            skin_optics(cfg.body.skin_type, wl)
        });
        let deposition = optics.map(|o| Deposition {
            penetration_depth_m: o.penetration_depth_mm * 1e-3,
            epidermal_fraction: o.epidermal_fraction,
        });
        let layers = zone_layers(DEFAULT_ZONE);
        let temps = BoundaryTemps {
            ambient_c: cfg.ambient_c,
            arterial_c: cfg.body.arterial_c,
            core_c: cfg.body.arterial_c,
        };
        let setup = ThermalSetup {
            in_contact: false,
            covered: false,
            fan_running: true,
            rth_scale: cfg.tolerances.rth_scale,
            perfusion_scale: cfg.body.perfusion_scale,
        };
        let core = ThermalCore::new(
            &device_thermal,
            &layers,
            &deposition,
            &setup,
            temps,
            cfg.body.skin_c,
        );
        let placed = PlacedOptics::compute(&spec, spec.nominal_placement());
        let ntc_cfg = NtcConfig {
            tolerance: NtcTolerance {
                r25_rel: cfg.tolerances.ntc_r25_scale - 1.0,
                beta_rel: cfg.tolerances.ntc_beta_scale - 1.0,
            },
            ..NtcConfig::default()
        };
        let ref_flux_w = core::array::from_fn(|s| {
            spec.string_channel(s).map_or(0.0, |ch| {
                f64::from(ch.leds_per_string)
                    * ch.led
                        .operating_point(ch.nominal_current_ma, T_REF_C)
                        .p_opt_w
            })
        });
        let string_is_nir = core::array::from_fn(|s| {
            spec.string_channel(s)
                .is_some_and(|ch| ch.wavelength.is_nir())
        });
        let board_c = core.temp_c(core.layout().board);
        let housing_c = core.temp_c(core.layout().housing);
        let mut plant = Plant {
            device_thermal,
            layers,
            deposition,
            reflectance: optics.map(|o| o.reflectance),
            optics: placed,
            earlier_optics: Vec::new(),
            zone: None,
            distance_cm: spec.distance_cm,
            lifted: false,
            covered: false,
            eye_shields: false,
            fan_stalled: false,
            power_lost: false,
            ambient_c: cfg.ambient_c,
            perfusion_scale: cfg.body.perfusion_scale,
            open: [false; MAX_STRINGS],
            shorted: [0; MAX_STRINGS],
            stuck_on: [false; MAX_STRINGS],
            drive: Drive::default(),
            ntc: [
                Ntc::new(ntc_cfg, housing_c),
                Ntc::new(ntc_cfg, housing_c),
                Ntc::new(ntc_cfg, board_c),
            ],
            rng: NoiseRng::seed_from_u64(cfg.noise_seed),
            ref_flux_w,
            string_is_nir,
            factor: [0.0; MAX_STRINGS],
            string_op: [StringOperatingPoint {
                v_on_v: 0.0,
                i_avg_ma: 0.0,
                p_el_w: 0.0,
                p_opt_w: 0.0,
                p_heat_w: 0.0,
            }; MAX_STRINGS],
            led_inputs: None,
            pending: PendingTicks::default(),
            sense_codes: SenseCodes::default(),
            factor_seconds: [0.0; MAX_STRINGS],
            cem43: Cem43::default(),
            cem43_memo: LinearDoseMemo::new(),
            ledger: EnergyLedger::default(),
            initial_stored_j: 0.0,
            core,
            spec,
            cfg: *cfg,
        };
        plant.initial_stored_j = plant.core.main_stored_energy_j();
        plant.update_sense_codes();
        plant
    }

    /// The device in use.
    pub fn device(&self) -> &DeviceSpec {
        &self.spec
    }

    fn in_contact(&self) -> bool {
        self.spec.contact && self.zone.is_some() && !self.lifted
    }

    /// Light reaches the zone only when the device is placed and not lifted.
    fn facing_zone(&self) -> bool {
        self.zone.is_some() && !self.lifted
    }

    fn setup(&self) -> ThermalSetup {
        ThermalSetup {
            in_contact: self.in_contact(),
            covered: self.covered,
            fan_running: !self.fan_stalled && !self.power_lost,
            rth_scale: self.cfg.tolerances.rth_scale,
            perfusion_scale: self.perfusion_scale,
        }
    }

    /// Takes the optics of `placement`: the present ones or an earlier placement's with the
    /// same bits, else computed (as [`ThermalCore::rebuild`] keeps its recent networks).
    fn place_optics(&mut self, placement: Placement) {
        let key = PlacedOptics::key(placement);
        if self.optics.key == key {
            return;
        }
        let next = match self.earlier_optics.iter().position(|p| p.key == key) {
            Some(i) => self.earlier_optics.remove(i),
            None => PlacedOptics::compute(&self.spec, placement),
        };
        let previous = std::mem::replace(&mut self.optics, next);
        if self.earlier_optics.len() + 1 >= PLACEMENT_CACHE {
            self.earlier_optics.remove(0);
        }
        self.earlier_optics.push(previous);
    }

    fn rebuild(&mut self) {
        let setup = self.setup();
        self.core
            .rebuild(&self.device_thermal, &self.layers, &self.deposition, &setup);
    }

    fn temps(&self) -> BoundaryTemps {
        BoundaryTemps {
            ambient_c: self.ambient_c,
            arterial_c: self.cfg.body.arterial_c,
            core_c: self.cfg.body.arterial_c,
        }
    }

    fn reset_tissue(&mut self, skin_c: f64) {
        let scaled: Vec<TissueLayer> = self
            .layers
            .iter()
            .map(|l| TissueLayer {
                perfusion_w_per_m3k: l.perfusion_w_per_m3k * self.perfusion_scale,
                ..*l
            })
            .collect();
        let profile = resting_profile(&scaled, self.temps(), skin_c);
        let before = self.core.main_stored_energy_j();
        self.core.set_column_profile(&profile);
        // A reset is an external change of state, not a heat flow: keep the ledger balanced.
        self.initial_stored_j += self.core.main_stored_energy_j() - before;
    }

    /// Applies a change; rebuilds the network's discretisation when conductances change.
    pub fn apply(&mut self, change: PlantChange) {
        // The ticks so far ran under the old conditions.
        self.settle();
        match change {
            PlantChange::Place { zone, distance_mm } => {
                // Only a panel is held at a chosen distance; worn devices (wraps, pads, masks,
                // pens, probes) sit at their own standoff.
                let distance_cm = if !self.spec.sensors.distance {
                    self.spec.distance_cm
                } else {
                    distance_mm / 10.0
                };
                self.zone = Some(zone);
                self.lifted = false;
                self.distance_cm = distance_cm;
                self.place_optics(Placement::centred(distance_cm));
                if self.layers != zone_layers(zone) {
                    let skin_c = self.core.temp_c(self.core.layout().main.surface());
                    self.layers = zone_layers(zone);
                    self.rebuild();
                    self.reset_tissue(skin_c);
                } else {
                    self.rebuild();
                }
            }
            PlantChange::Remove => {
                self.zone = None;
                self.lifted = false;
                self.rebuild();
            }
            PlantChange::LiftOff => {
                self.lifted = true;
                self.rebuild();
            }
            PlantChange::PutBack => {
                self.lifted = false;
                self.rebuild();
            }
            PlantChange::Cover(on) => {
                self.covered = on;
                self.rebuild();
            }
            PlantChange::Ambient(c) => {
                self.ambient_c = c;
                self.core.set_boundaries(self.temps());
            }
            PlantChange::SkinState {
                skin_c,
                perfusion_scale,
            } => {
                self.perfusion_scale = perfusion_scale;
                self.rebuild();
                // Under a device the tissue evolves on its own (the device's heat and light act on
                // it); only bare skin is reset to the new resting state, so a post-training decay
                // sampled every few minutes does not make the skin under a wrap jump.
                if self.zone.is_none() {
                    self.reset_tissue(skin_c);
                }
            }
            PlantChange::EyeShields(on) => self.eye_shields = on,
            PlantChange::Fault(f) => match f {
                PlantFault::Ntc { sensor, fault } => self.ntc[sensor as usize].set_fault(fault),
                PlantFault::StringOpen(s) => self.open[s] = true,
                PlantFault::StringShort { string, leds } => self.shorted[string] = leds,
                PlantFault::DriverStuckOn(s) => self.stuck_on[s] = true,
                PlantFault::FanStall => {
                    self.fan_stalled = true;
                    self.rebuild();
                }
            },
            PlantChange::ClearFaults => {
                for n in &mut self.ntc {
                    n.set_fault(NtcFault::None);
                }
                self.open = [false; MAX_STRINGS];
                self.shorted = [0; MAX_STRINGS];
                self.stuck_on = [false; MAX_STRINGS];
                self.fan_stalled = false;
                self.rebuild();
            }
            PlantChange::PowerLoss(lost) => {
                self.power_lost = lost;
                self.rebuild();
            }
        }
        // A fault or the supply can switch strings on or off at once.
        self.evaluate_leds();
    }

    /// Sets the firmware's drive; it holds until the next call.
    pub fn set_drive(&mut self, drive: &Drive) {
        // The same drive at the same junction temperatures evaluates to the same numbers.
        if self.led_inputs.is_some() && self.drive == *drive {
            return;
        }
        self.drive = *drive;
        // Emission and the sense readings follow the drive at once (the LEDs switch in
        // microseconds); the heat it makes is re-evaluated at the start of the next step.
        self.evaluate_leds();
    }

    /// LED operating points and output factors for the present drive at the present junction
    /// temperatures (held over the coming step).
    fn evaluate_leds(&mut self) -> ThermalInputs {
        let inputs = self.evaluate_leds_now();
        self.led_inputs = Some(inputs);
        inputs
    }

    /// The step's thermal inputs: those of the last LED evaluation if nothing moved since (the
    /// bench sets the drive after each step, which evaluates at the new junction temperature,
    /// so the next step's start would compute the same numbers again).
    fn step_inputs(&mut self) -> ThermalInputs {
        match self.led_inputs {
            Some(inputs) => inputs,
            None => self.evaluate_leds(),
        }
    }

    fn evaluate_leds_now(&mut self) -> ThermalInputs {
        let mut inputs = ThermalInputs::default();
        let scale = self.cfg.tolerances.led_efficiency_scale;
        for s in 0..MAX_STRINGS {
            let c = s / STRINGS_PER_CHANNEL;
            let off = StringOperatingPoint {
                v_on_v: 0.0,
                i_avg_ma: 0.0,
                p_el_w: 0.0,
                p_opt_w: 0.0,
                p_heat_w: 0.0,
            };
            let Some(ch) = self.spec.string_channel(s) else {
                self.string_op[s] = off;
                self.factor[s] = 0.0;
                continue;
            };
            let set_ma = f64::from(self.drive.current_ma[c]);
            let (i_on_ma, duty) = if self.stuck_on[s] {
                (
                    if set_ma > 0.0 {
                        set_ma
                    } else {
                        ch.nominal_current_ma
                    },
                    1.0,
                )
            } else {
                (
                    set_ma,
                    f64::from(self.drive.duty_permille[c].min(1000)) / 1000.0,
                )
            };
            let powered = self.drive.hw_enable && !self.power_lost && !self.open[s];
            let mut op = if powered && duty > 0.0 && i_on_ma > 0.0 {
                let tj_c = self.core.temp_c(self.core.layout().junction[c]);
                ch.led.string_operating_point(
                    ch.leds_per_string,
                    u32::from(self.shorted[s]),
                    LedDrive {
                        i_on_ma,
                        duty,
                        tj_c,
                    },
                )
            } else {
                off
            };
            if scale != 1.0 {
                op.p_opt_w = (op.p_opt_w * scale).min(op.p_el_w);
                op.p_heat_w = op.p_el_w - op.p_opt_w;
            }
            self.factor[s] = if self.ref_flux_w[s] > 0.0 {
                op.p_opt_w / self.ref_flux_w[s]
            } else {
                0.0
            };
            inputs.led_heat_w[c] += op.p_heat_w;
            self.string_op[s] = op;
        }
        if self.facing_zone() {
            let area_main = self.device_thermal.contact_area_m2;
            for c in 0..MAX_CHANNELS {
                let (mean, max) = self.channel_mean_max(c, &self.factor);
                // mW/cm² → W/m²: ×10.
                let absorbed = 1.0 - self.reflectance[c];
                inputs.main_absorbed_w[c] = absorbed * mean * 10.0 * area_main;
                inputs.hot_spot_absorbed_w[c] = absorbed * max * 10.0 * HOT_SPOT_AREA_M2;
            }
        }
        self.update_sense_codes();
        inputs
    }

    /// The electrical sense channels' noise-free codes for the present operating points.
    fn update_sense_codes(&mut self) {
        for s in 0..MAX_STRINGS {
            let op = self.string_op[s];
            let c = s / STRINGS_PER_CHANNEL;
            let commanded = self.drive.hw_enable
                && !self.power_lost
                && (self.drive.duty_permille[c] > 0 || self.stuck_on[s])
                && self.spec.string_channel(s).is_some();
            let v = if self.open[s] && commanded {
                self.spec.led_rail_v
            } else if op.i_avg_ma > 0.0 {
                op.v_on_v
            } else {
                0.0
            };
            self.sense_codes.string_current[s] = string_current_code(op.i_avg_ma);
            self.sense_codes.string_voltage[s] = string_voltage_code(v);
        }
        self.sense_codes.supply = (!self.power_lost).then(|| supply_code(self.spec.supply_v));
    }

    /// Zone mean and peak of channel `c` for per-string `factors` (no allocation; exact peak
    /// by a grid pass only when the two strings are scaled differently).
    fn channel_mean_max(&self, c: usize, factors: &[f64; MAX_STRINGS]) -> (f64, f64) {
        let (a, b) = (c * STRINGS_PER_CHANNEL, c * STRINGS_PER_CHANNEL + 1);
        let mean =
            factors[a] * self.optics.map_stats[a].mean + factors[b] * self.optics.map_stats[b].mean;
        let (fa, fb) = (factors[a], factors[b]);
        // A channel with one string has an all-zero second map: its peak is the first's.
        let max = if fa == fb || self.ref_flux_w[b] == 0.0 {
            fa * self.optics.channel_peak[c]
        } else if self.ref_flux_w[a] == 0.0 {
            fb * self.optics.channel_peak[c]
        } else {
            self.channel_extreme(c, factors, f64::max, 0.0)
        };
        (mean, max)
    }

    fn channel_extreme(
        &self,
        c: usize,
        factors: &[f64; MAX_STRINGS],
        pick: fn(f64, f64) -> f64,
        init: f64,
    ) -> f64 {
        let (a, b) = (c * STRINGS_PER_CHANNEL, c * STRINGS_PER_CHANNEL + 1);
        self.optics.maps.per_string[a]
            .mw_cm2
            .iter()
            .zip(&self.optics.maps.per_string[b].mw_cm2)
            .map(|(x, y)| factors[a] * x + factors[b] * y)
            .fold(init, pick)
    }

    /// Advances virtual time by `dt_ms` with the present drive. A 10 ms tick accrues the dose at
    /// once and its heat for the next thermal update ([`THERMAL_PERIOD_TICKS`]); any other length
    /// first brings the thermal state up to date, then takes one exact jump (cost independent of
    /// its length).
    pub fn advance(&mut self, dt_ms: u64) {
        if dt_ms == 0 {
            return;
        }
        // A tick takes its length as a constant instead of waiting for the division before it
        // accrues its dose.
        let dt_s = if dt_ms == TICK_MS {
            TICK_S
        } else {
            dt_ms as f64 / 1000.0
        };
        self.accrue_fluence(dt_s);
        let inputs = self.step_inputs();
        if dt_ms == TICK_MS {
            let p = &mut self.pending;
            p.ticks += 1;
            for c in 0..MAX_CHANNELS {
                p.inputs.led_heat_w[c] += inputs.led_heat_w[c];
                p.inputs.main_absorbed_w[c] += inputs.main_absorbed_w[c];
                p.inputs.hot_spot_absorbed_w[c] += inputs.hot_spot_absorbed_w[c];
            }
            for op in &self.string_op {
                p.electrical_w += op.p_el_w;
                p.optical_w += op.p_opt_w;
            }
            if p.ticks == THERMAL_PERIOD_TICKS {
                self.settle();
            }
            return;
        }
        let (electrical_w, optical_w) = self
            .string_op
            .iter()
            .fold((0.0, 0.0), |(e, o), op| (e + op.p_el_w, o + op.p_opt_w));
        let dark = |i: &ThermalInputs, electrical_w: f64| {
            *i == ThermalInputs::default() && electrical_w == 0.0
        };
        let dt_s = if self.pending.ticks > 0
            && dark(&self.pending.inputs, self.pending.electrical_w)
            && dark(&inputs, electrical_w)
        {
            // Dark ticks followed by a dark step are one held input: a single jump covers both
            // exactly, and a firmware that wakes every 60 s after one tick keeps hitting the
            // cached 60 s jump instead of a fresh 59.99 s one.
            let ticks = u64::from(std::mem::take(&mut self.pending).ticks);
            (dt_ms + ticks * TICK_MS) as f64 / 1000.0
        } else {
            self.settle();
            dt_s
        };
        self.thermal_update(
            dt_s,
            &inputs,
            [electrical_w * dt_s, optical_w * dt_s],
            |core, inputs| core.jump(dt_s, inputs),
        );
    }

    /// Brings the thermal state up to date with the control ticks pending: one thermal period
    /// when a whole period is pending, else that many exact ticks, with their inputs averaged
    /// either way. The temperatures read after it are exact for the averaged inputs.
    pub fn settle(&mut self) {
        let p = std::mem::take(&mut self.pending);
        if p.ticks == 0 {
            return;
        }
        let n = f64::from(p.ticks);
        let tick_s = TICK_S;
        let mean = ThermalInputs {
            led_heat_w: p.inputs.led_heat_w.map(|w| w / n),
            main_absorbed_w: p.inputs.main_absorbed_w.map(|w| w / n),
            hot_spot_absorbed_w: p.inputs.hot_spot_absorbed_w.map(|w| w / n),
        };
        self.thermal_update(
            n * tick_s,
            &mean,
            [p.electrical_w * tick_s, p.optical_w * tick_s],
            |core, inputs| {
                if p.ticks == THERMAL_PERIOD_TICKS {
                    core.period(inputs);
                } else {
                    for _ in 0..p.ticks {
                        core.tick(inputs);
                    }
                }
            },
        );
    }

    /// Dose accrues on the zone for every step, tick or jump, while the device faces it (not
    /// lifted, not removed).
    fn accrue_fluence(&mut self, dt_s: f64) {
        if self.facing_zone() {
            for (fs, f) in self.factor_seconds.iter_mut().zip(&self.factor) {
                *fs += f * dt_s;
            }
        }
    }

    /// One thermal step of `dt_s` with `inputs` held (taken by `step`), and what follows it: the
    /// CEM43 of the hot spot, the energy ledger (`led_j`: electrical and optical energy of the
    /// LEDs over the step), the thermistors' lag. The junctions moved, so the LEDs are evaluated
    /// afresh at the next drive or step.
    fn thermal_update(
        &mut self,
        dt_s: f64,
        inputs: &ThermalInputs,
        led_j: [f64; 2],
        step: impl FnOnce(&mut ThermalCore, &ThermalInputs),
    ) {
        // Only a lit string's operating point depends on its junction temperature: with every
        // string dark the evaluation gives the same numbers at any temperature (at rest the
        // firmware's 60 s wakes would otherwise re-evaluate all strings after every jump).
        if self.string_op.iter().any(|op| op.i_avg_ma > 0.0) {
            self.led_inputs = None;
        }
        let hs = self.core.layout().hot_spot.surface();
        let before_c = self.core.temp_c(hs);
        step(&mut self.core, inputs);
        let after_c = self.core.temp_c(hs);
        self.cem43
            .add_linear_memo(&mut self.cem43_memo, before_c, after_c, dt_s);
        self.ledger.electrical_j += led_j[0];
        self.ledger.optical_emitted_j += led_j[1];
        self.ledger.optical_absorbed_j += inputs.main_absorbed_w.iter().sum::<f64>() * dt_s;
        self.ledger.metabolic_j += self.core.main_metabolic_w() * dt_s;
        let l = self.core.layout();
        let housing_c = self.core.temp_c(l.housing);
        let contact_hosts = if self.in_contact() {
            [
                self.core.temp_c(l.hot_spot.surface()),
                self.core.temp_c(l.main.surface()),
            ]
        } else {
            [housing_c, housing_c]
        };
        let board_c = self.core.temp_c(l.board);
        self.ntc[0].advance(dt_s, contact_hosts[0], housing_c);
        self.ntc[1].advance(dt_s, contact_hosts[1], housing_c);
        self.ntc[2].advance(dt_s, board_c, self.ambient_c);
    }

    /// Samples the sensors (draws from the seeded noise generator).
    ///
    /// Inlined into its caller: the bench turns the readings into the firmware's input frame at
    /// once, and a returned `Readings` read back field by field (wider than it was written) cost
    /// a store-forwarding stall per control tick.
    #[inline(always)]
    pub fn sense(&mut self) -> Readings {
        let normal: [f64; SENSE_CHANNELS] = standard_normals(&mut self.rng);
        // Every channel's code before rounding and its noise, in draw order, rounded at once; the
        // channels the device lacks are drawn and rounded too, then left at 0.
        let mut counts = [0.0; SENSE_CHANNELS];
        let mut noise_lsb = [NTC_NOISE_LSB; SENSE_CHANNELS];
        for (k, ntc) in self.ntc.iter().enumerate() {
            (counts[k], noise_lsb[k]) = ntc.read_counts();
        }
        let codes = &self.sense_codes;
        for s in 0..MAX_STRINGS {
            counts[NTC_CHANNELS + s] = f64::from(codes.string_current[s]);
            counts[NTC_CHANNELS + MAX_STRINGS + s] = f64::from(codes.string_voltage[s]);
        }
        counts[SENSE_CHANNELS - 1] = codes.supply.map_or(0.0, f64::from);
        let noisy = noisy_codes(&counts, &noise_lsb, &normal);
        // The channels the device lacks read 0: one mask over all codes, and the readings built
        // whole from the masked codes (field by field, the narrow stores and the wide copies of
        // the result that follow stalled on store forwarding).
        let sensors = self.spec.sensors;
        let contact = usize::from(sensors.contact_ntcs);
        let present = |k: usize| match k {
            k if k < MAX_CONTACT_NTCS => k < contact,
            MAX_CONTACT_NTCS => sensors.board_ntc,
            k if k == SENSE_CHANNELS - 1 => codes.supply.is_some(),
            _ => true,
        };
        let c: [u16; SENSE_CHANNELS] =
            core::array::from_fn(|k| if present(k) { noisy[k] } else { 0 });
        let facing = self.facing_zone();
        let (cur, volt) = (NTC_CHANNELS, NTC_CHANNELS + MAX_STRINGS);
        Readings {
            contact_ntc: core::array::from_fn(|k| c[k]),
            board_ntc: c[MAX_CONTACT_NTCS],
            string_current: core::array::from_fn(|s| c[cur + s]),
            string_voltage: core::array::from_fn(|s| c[volt + s]),
            supply: c[SENSE_CHANNELS - 1],
            skin_contact: sensors.skin_contact && facing,
            eye_shield: sensors.eye_shield && self.eye_shields,
            fan_ok: sensors.fan && !self.fan_stalled && !self.power_lost,
            distance_mm: if sensors.distance && facing {
                (self.distance_cm * 10.0).round() as u16
            } else {
                0
            },
        }
    }

    /// Plant truth (no allocation).
    pub fn truth(&self) -> Truth {
        let l = self.core.layout();
        let facing = self.facing_zone();
        let stats = |c: usize, f: &[f64; MAX_STRINGS], scale: f64| {
            if !facing && scale == 1.0 {
                return ChannelStats::default();
            }
            let (mean, max) = self.channel_mean_max(c, f);
            let min = self.channel_extreme(c, f, f64::min, f64::INFINITY);
            ChannelStats {
                mean: mean * scale,
                min: min * scale,
                max: max * scale,
            }
        };
        let zone_area_cm2 = self.spec.skin_grid.width_cm * self.spec.skin_grid.height_cm;
        // Fluence accumulates as ∫factor dt per string; mW/cm²·s → J/cm²: /1000.
        let fluence: [ChannelStats; MAX_CHANNELS] =
            core::array::from_fn(|c| stats(c, &self.factor_seconds, 1e-3));
        let nir_at_eye = if self.eye_shields || !facing {
            0.0
        } else {
            self.optics
                .eye
                .iter()
                .map(|e| {
                    (0..MAX_STRINGS)
                        .filter(|&s| {
                            self.spec
                                .string_channel(s)
                                .is_some_and(|ch| ch.wavelength.is_nir())
                        })
                        .map(|s| self.factor[s] * e[s])
                        .sum::<f64>()
                })
                .fold(0.0, f64::max)
        };
        Truth {
            hottest_skin_c: self.core.temp_c(l.hot_spot.surface()),
            contact_skin_c: self.core.temp_c(l.main.surface()),
            junction_c: l.junction.map(|j| self.core.temp_c(j)),
            board_c: self.core.temp_c(l.board),
            housing_c: self.core.temp_c(l.housing),
            irradiance: core::array::from_fn(|c| stats(c, &self.factor, 1.0)),
            fluence,
            zone_energy_j: fluence.map(|f| f.mean * zone_area_cm2),
            cem43_min: self.cem43.minutes(),
            emitting: self.factor.iter().any(|&f| f > 0.0),
            eye_nir_mw_cm2: nir_at_eye,
            electrical_j: self.ledger.electrical_j + self.pending.electrical_w * TICK_S,
        }
    }

    /// Whether any string emits light at the present drive (the bench's "is anything lit" check,
    /// without the rest of [`Plant::probe`]).
    // Inlined across the crate boundary: the bench asks at every loop turn (twice) and the call
    // cost more than the four compares (1.4 % of a runner week's samples out of line).
    #[inline]
    pub fn emitting(&self) -> bool {
        self.factor.iter().any(|&f| f > 0.0)
    }

    /// The scalars a closed loop looks at every step: temperatures, zone-mean irradiance and
    /// fluence, CEM43, emission. O(strings), no grid pass: cheap enough for every control tick,
    /// unlike [`Plant::truth`], which also finds zone minima and maxima over the grid.
    pub fn probe(&self) -> Probe {
        let l = self.core.layout();
        let facing = self.facing_zone();
        let mean = |f: &[f64; MAX_STRINGS], c: usize| {
            let (a, b) = (c * STRINGS_PER_CHANNEL, c * STRINGS_PER_CHANNEL + 1);
            if facing {
                f[a] * self.optics.map_stats[a].mean + f[b] * self.optics.map_stats[b].mean
            } else {
                0.0
            }
        };
        let nir_at_eye = if self.eye_shields || !facing || self.optics.eye.is_empty() {
            0.0
        } else {
            self.optics
                .eye
                .iter()
                .map(|e| {
                    (0..MAX_STRINGS)
                        .filter(|&s| self.string_is_nir[s])
                        .map(|s| self.factor[s] * e[s])
                        .sum::<f64>()
                })
                .fold(0.0, f64::max)
        };
        Probe {
            hottest_skin_c: self.core.temp_c(l.hot_spot.surface()),
            contact_skin_c: self.core.temp_c(l.main.surface()),
            junction_c: l.junction.map(|j| self.core.temp_c(j)),
            board_c: self.core.temp_c(l.board),
            irradiance_mean_mw_cm2: [mean(&self.factor, 0), mean(&self.factor, 1)],
            fluence_mean_j_cm2: [
                mean(&self.factor_seconds, 0) * 1e-3,
                mean(&self.factor_seconds, 1) * 1e-3,
            ],
            cem43_min: self.cem43.minutes(),
            emitting: self.emitting(),
            nir_emitting: (0..MAX_STRINGS).any(|s| self.string_is_nir[s] && self.factor[s] > 0.0),
            eye_nir_mw_cm2: nir_at_eye,
        }
    }

    /// The per-string dose accumulators now, to measure a session by difference later.
    pub fn dose_snapshot(&self) -> DoseSnapshot {
        DoseSnapshot {
            factor_seconds: self.factor_seconds,
        }
    }

    /// The skin grid the dose maps are computed on.
    pub fn skin_grid(&self) -> SkinGrid {
        self.optics.maps.grid()
    }

    /// Fluence map delivered since `since`, all channels, J/cm², one value per skin-grid point
    /// (row-major, `out.len()` = grid points).
    pub fn fluence_map_since(&self, since: &DoseSnapshot, out: &mut [f64]) {
        let n = self.optics.maps.grid().len();
        assert_eq!(out.len(), n, "one value per grid point");
        out.fill(0.0);
        for s in 0..MAX_STRINGS {
            let d = (self.factor_seconds[s] - since.factor_seconds[s]) * 1e-3;
            for (o, v) in out.iter_mut().zip(&self.optics.maps.per_string[s].mw_cm2) {
                *o += d * v;
            }
        }
    }

    /// Fluence delivered onto the zone since `since`: zone mean, minimum and maximum over the skin
    /// grid (one grid pass), per-channel means and the optical energy onto the zone. Fluence
    /// accrues only while the device faces a zone; a session is measured on the maps of the
    /// last placement.
    pub fn fluence_since(&self, since: &DoseSnapshot) -> SessionDose {
        let d: [f64; MAX_STRINGS] =
            core::array::from_fn(|s| (self.factor_seconds[s] - since.factor_seconds[s]) * 1e-3);
        let n = self.optics.maps.grid().len();
        let (mut min, mut max, mut sum) = (f64::INFINITY, 0.0_f64, 0.0);
        for i in 0..n {
            let h: f64 = (0..MAX_STRINGS)
                .map(|s| d[s] * self.optics.maps.per_string[s].mw_cm2[i])
                .sum();
            min = min.min(h);
            max = max.max(h);
            sum += h;
        }
        let channel_mean_j_cm2 = core::array::from_fn(|c| {
            let (a, b) = (c * STRINGS_PER_CHANNEL, c * STRINGS_PER_CHANNEL + 1);
            d[a] * self.optics.map_stats[a].mean + d[b] * self.optics.map_stats[b].mean
        });
        let zone_area_cm2 = self.spec.skin_grid.width_cm * self.spec.skin_grid.height_cm;
        let mean = if n == 0 { 0.0 } else { sum / n as f64 };
        SessionDose {
            mean_j_cm2: mean,
            min_j_cm2: if n == 0 { 0.0 } else { min },
            max_j_cm2: max,
            channel_mean_j_cm2,
            energy_j: mean * zone_area_cm2,
        }
    }

    /// Accumulated fluence map per channel, J/cm²: `out` holds channel 0's grid then channel 1's
    /// (length `2 × grid points`).
    pub fn fluence_map(&self, out: &mut [f64]) {
        let n = self.optics.maps.grid().len();
        assert_eq!(out.len(), MAX_CHANNELS * n, "two channel grids");
        out.fill(0.0);
        for s in 0..MAX_STRINGS {
            let c = s / STRINGS_PER_CHANNEL;
            let f = self.factor_seconds[s] * 1e-3;
            for (o, v) in out[c * n..(c + 1) * n]
                .iter_mut()
                .zip(&self.optics.maps.per_string[s].mw_cm2)
            {
                *o += f * v;
            }
        }
    }

    /// Energy ledger of the main system since construction.
    pub fn energy(&self) -> EnergyLedger {
        EnergyLedger {
            stored_change_j: self.core.main_stored_energy_j() - self.initial_stored_j,
            outflow_j: self.core.main_outflow_j(),
            ..self.ledger
        }
    }

    /// Resets the session accumulators (fluence, CEM43) for a new session.
    pub fn start_session(&mut self) {
        // CEM43 up to now belongs to the time before the session.
        self.settle();
        self.factor_seconds = [0.0; MAX_STRINGS];
        self.cem43.reset();
    }
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
    fn off_the_body_every_part_jumps_by_its_modes() {
        let off = ThermalSetup {
            in_contact: false,
            ..setup()
        };
        let (net, _) = build_thermal_network(&wrap(), &layers(), &DEPOSITION, &off);
        // The device and the two tissue columns, each reciprocal.
        assert_eq!(net.jump_basis().modal_parts(), 3);
        // On the body the hot-spot column is fed one way from the housing: one part, by the
        // exponential.
        let (net, _) = build_thermal_network(&wrap(), &layers(), &DEPOSITION, &setup());
        assert_eq!(net.jump_basis().modal_parts(), 0);
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

    /// Flows applied once to the sum of the jumps' starts against flows added jump by jump: the
    /// same linear map, summed in another order, so they differ by roundoff of the ~1e4 J totals
    /// (ε · 1e4 J · a few hundred jumps ≈ 1e-10 J), with margin.
    const LAZY_FLOWS_J: f64 = 1e-8;

    #[test]
    fn repeated_jumps_account_their_flows_lazily_and_exactly() {
        let mut lazy = core();
        let mut eager = core();
        let idle = ThermalInputs::default();
        for _ in 0..3 {
            for _ in 0..200 {
                lazy.jump(60.0, &idle);
            }
            // A different length in between settles the first one's pending flows.
            lazy.jump(7.5, &idle);
        }
        // The same steps, each settled at once, straight from the network.
        lazy.settle_flows();
        let mut jumps: Vec<HeldJump> = Vec::new();
        eager.load_sources(&idle);
        for dt in [60.0, 7.5] {
            jumps.push(
                eager
                    .current
                    .net
                    .discretize_held(dt, &eager.boundary_c, &eager.sources),
            );
        }
        for _ in 0..3 {
            for _ in 0..200 {
                jumps[0].step_settled(&mut eager.state);
            }
            jumps[1].step_settled(&mut eager.state);
        }
        assert_eq!(lazy.state().temps_c, eager.state().temps_c);
        assert!(lazy.jump_at.is_none() && lazy.jump_pending.is_empty());
        for (x, y) in lazy.state().flow_j.iter().zip(&eager.state().flow_j) {
            assert!((x - y).abs() < LAZY_FLOWS_J, "{x} vs {y}");
        }
        // Some heat did flow, so the comparison means something.
        assert!(eager.main_outflow_j().iter().any(|f| f.abs() > 1.0));
    }

    #[test]
    fn jumps_at_rest_and_after_a_session_keep_the_stepped_bits() {
        let mut lazy = core();
        let mut eager = core();
        let idle = ThermalInputs::default();
        eager.load_sources(&idle);
        let rest = eager
            .current
            .net
            .discretize_held(60.0, &eager.boundary_c, &eager.sources);
        // Two days at rest (the state comes to a fixed point of the 60 s jump), a reset of the
        // columns, two more days, a session of ticks: each disturbance must end the repeat.
        let mut rested = false;
        for round in 0..2 {
            for _ in 0..2880 {
                lazy.jump(60.0, &idle);
                rest.step_settled(&mut eager.state);
                assert_eq!(lazy.state().temps_c, eager.state().temps_c, "round {round}");
                rested |= lazy.current.jumps.iter().any(|j| j.fixed_point().is_some());
            }
            let profile = [36.0, 36.5, 37.0];
            lazy.set_column_profile(&profile);
            eager.set_column_profile(&profile);
            lazy.jump(60.0, &idle);
            rest.step_settled(&mut eager.state);
            assert_eq!(
                lazy.state().temps_c,
                eager.state().temps_c,
                "after the reset"
            );
            for _ in 0..2880 {
                lazy.jump(60.0, &idle);
                rest.step_settled(&mut eager.state);
            }
            for _ in 0..500 {
                lazy.tick(&SESSION);
                eager.tick(&SESSION);
            }
            lazy.jump(60.0, &idle);
            rest.step_settled(&mut eager.state);
            assert_eq!(
                lazy.state().temps_c,
                eager.state().temps_c,
                "after the session"
            );
        }
        assert!(
            rested,
            "two days at rest never reached the jump's fixed point"
        );
    }

    #[test]
    fn pending_jump_flows_are_counted_before_they_settle() {
        let mut c = core();
        let idle = ThermalInputs::default();
        for _ in 0..50 {
            c.jump(60.0, &idle);
        }
        let pending = c.main_outflow_j();
        assert!(c.jump_at.is_some());
        c.settle_flows();
        for (x, y) in pending.iter().zip(&c.main_outflow_j()) {
            assert!((x - y).abs() < LAZY_FLOWS_J, "{x} vs {y}");
        }
        assert!(pending.iter().any(|f| f.abs() > 1.0), "{pending:?}");
    }

    #[test]
    fn a_thermal_period_equals_its_ticks() {
        let mut a = core();
        let mut b = core();
        for _ in 0..100 {
            for _ in 0..THERMAL_PERIOD_TICKS {
                a.tick(&SESSION);
            }
            b.period(&SESSION);
        }
        for (x, y) in a.state().temps_c.iter().zip(&b.state().temps_c) {
            assert!((x - y).abs() < JUMP_VS_TICKS_K, "{x} vs {y}");
        }
        for (x, y) in a.main_outflow_j().iter().zip(&b.main_outflow_j()) {
            assert!((x - y).abs() < ENERGY_BALANCE_REL * x.abs(), "{x} vs {y}");
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
