//! Linear thermal RC networks and their exact discretisation for piecewise-constant inputs.
//!
//! Every thermal part of the plant (LED junctions, board, housing, the two Pennes tissue columns)
//! is one linear network of physical (Cauer) nodes, domain.md §4.1:
//!
//! ```text
//! C_i dT_i/dt = Σ_j (T_j − T_i)/R_ij + Σ_b g_ib (T_b − T_i) + Σ_s w_is P_s      (C J/K, g W/K, P W)
//! ```
//!
//! with fixed *boundary* temperatures `T_b` (ambient, arterial blood, core) and *sources* `P_s`
//! (W per unit input, distributed over nodes with weights `w_is`). In state-space form
//! `dx/dt = A x + B u`. Because the plant holds its inputs constant over a step, the step
//! `x(t+dt) = Φ x + Γ B u` with `Φ = e^{A dt}`, `Γ = ∫₀^dt e^{As} ds` is *exact* for any dt: the
//! stiff junction node (τ ≈ 0.1 s) neither blows up nor forces small steps, and an idle jump of
//! 16 h is one step (Van Loan, IEEE TAC 23:395, 1978, for the augmented-matrix construction).
//!
//! Energy accounting uses the exact state integral `∫x dt = Γ x₀ + Γ₂ B u`, `Γ₂ = ∫₀^dt Γ(s) ds`,
//! projected onto the few rows that carry heat across the network's edge (one per boundary and one
//! per one-way link), all from one augmented matrix exponential:
//!
//! ```text
//!        ⎡A 0 B⎤        ⎡Φ   0  ΓB        ⎤
//! M dt = ⎢W 0 D⎥ dt, e^ = ⎢WΓ  I  WΓ₂B + D dt⎥       W: flow rows, D: their direct input term
//!        ⎣0 0 0⎦        ⎣0   0  I         ⎦
//! ```
//!
//! so the heat to each boundary over a step is computed from the trajectory, not back-filled from
//! the energy balance: conservation is a real check.

use crate::linalg::{Matrix, expm, symmetric_eigen};

/// A node of a [`ThermalNetwork`] (an index into its state vector).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(usize);

impl NodeId {
    /// Position of the node's temperature in the state vector.
    pub fn index(self) -> usize {
        self.0
    }
}

/// A fixed-temperature boundary of a [`ThermalNetwork`] (ambient air, arterial blood, core).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BoundaryId(usize);

impl BoundaryId {
    /// Position of the boundary in the boundary-temperature input and in the flow accumulators.
    pub fn index(self) -> usize {
        self.0
    }
}

/// A power input of a [`ThermalNetwork`]: one scalar (W per unit) spread over nodes by weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceId(usize);

impl SourceId {
    /// Position of the source in the source input vector.
    pub fn index(self) -> usize {
        self.0
    }
}

/// A one-way coupling: `to` feels `from` through `g`, but `from` is not loaded by it.
///
/// Used for the hot-spot tissue column, which must respond to the housing without taking heat
/// from it (the main column already carries that heat): its heat input is reported as a flow.
#[derive(Clone, Copy, Debug, PartialEq)]
struct OneWayLink {
    from: NodeId,
    to: NodeId,
    g_w_per_k: f64,
}

/// A linear thermal RC network under construction or ready to discretise.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThermalNetwork {
    capacity_j_per_k: Vec<f64>,
    links: Vec<(NodeId, NodeId, f64)>,
    boundary_links: Vec<(NodeId, BoundaryId, f64)>,
    one_way_links: Vec<OneWayLink>,
    sources: Vec<Vec<(NodeId, f64)>>,
    boundary_count: usize,
}

impl ThermalNetwork {
    /// An empty network.
    pub fn new() -> ThermalNetwork {
        ThermalNetwork::default()
    }

    /// Adds a node of heat capacity `capacity_j_per_k` (J/K, > 0).
    pub fn add_node(&mut self, capacity_j_per_k: f64) -> NodeId {
        assert!(
            capacity_j_per_k > 0.0 && capacity_j_per_k.is_finite(),
            "node heat capacity must be > 0"
        );
        self.capacity_j_per_k.push(capacity_j_per_k);
        NodeId(self.capacity_j_per_k.len() - 1)
    }

    /// Adds a fixed-temperature boundary; its temperature is an input of every step.
    pub fn add_boundary(&mut self) -> BoundaryId {
        self.boundary_count += 1;
        BoundaryId(self.boundary_count - 1)
    }

    /// Adds a power source: one input of `u` W-per-unit deposits `u · weight` W in each listed node.
    pub fn add_source(&mut self, weights: &[(NodeId, f64)]) -> SourceId {
        self.sources.push(weights.to_vec());
        SourceId(self.sources.len() - 1)
    }

    /// Replaces the weights of an existing source (e.g. a new optical deposition profile).
    pub fn set_source(&mut self, source: SourceId, weights: &[(NodeId, f64)]) {
        self.sources[source.0] = weights.to_vec();
    }

    /// Conductance `g_w_per_k` (W/K = 1/R) between two nodes.
    pub fn link(&mut self, a: NodeId, b: NodeId, g_w_per_k: f64) {
        assert!(g_w_per_k >= 0.0 && a != b, "link needs two nodes and g ≥ 0");
        self.links.push((a, b, g_w_per_k));
    }

    /// Conductance `g_w_per_k` (W/K) from a node to a boundary.
    pub fn link_boundary(&mut self, node: NodeId, boundary: BoundaryId, g_w_per_k: f64) {
        assert!(g_w_per_k >= 0.0, "boundary conductance must be ≥ 0");
        self.boundary_links.push((node, boundary, g_w_per_k));
    }

    /// One-way conductance: `to` exchanges heat with `from` through `g_w_per_k` (W/K) but `from`
    /// does not see it. The heat entering `to` this way is reported as a flow (see
    /// [`ThermalNetwork::flow_count`]).
    pub fn link_one_way(&mut self, from: NodeId, to: NodeId, g_w_per_k: f64) {
        assert!(
            g_w_per_k >= 0.0 && from != to,
            "one-way link needs two nodes and g ≥ 0"
        );
        self.one_way_links.push(OneWayLink {
            from,
            to,
            g_w_per_k,
        });
    }

    /// Number of nodes (length of the state vector).
    pub fn node_count(&self) -> usize {
        self.capacity_j_per_k.len()
    }

    /// Number of boundaries (length of the boundary-temperature input).
    pub fn boundary_count(&self) -> usize {
        self.boundary_count
    }

    /// Number of sources (length of the source input).
    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// Number of flow accumulators: heat out to each boundary (J, index = boundary index), then
    /// heat in through each one-way link (J, in the order the links were added).
    pub fn flow_count(&self) -> usize {
        self.boundary_count + self.one_way_links.len()
    }

    /// Heat capacity of a node, J/K.
    pub fn capacity_j_per_k(&self, node: NodeId) -> f64 {
        self.capacity_j_per_k[node.0]
    }

    /// Heat capacity of every node, J/K, indexed by [`NodeId::index`].
    pub fn capacities_j_per_k(&self) -> &[f64] {
        &self.capacity_j_per_k
    }

    /// Power (W) that a unit input of `source` deposits in the network: the sum of its weights.
    pub fn source_gain(&self, source: SourceId) -> f64 {
        self.sources[source.0].iter().map(|(_, w)| w).sum()
    }

    /// Heat stored in the network relative to 0 °C, J: Σ C_i T_i.
    pub fn stored_energy_j(&self, temps_c: &[f64]) -> f64 {
        self.capacity_j_per_k
            .iter()
            .zip(temps_c)
            .map(|(c, t)| c * t)
            .sum()
    }

    /// The continuous-time system `dx/dt = A x + B_bnd T_b + B_src P`, and the flow rows
    /// `flow = W x + D T_b` (heat rates, W).
    fn state_space(&self) -> StateSpace {
        let n = self.node_count();
        let nb = self.boundary_count;
        let ns = self.sources.len();
        let k = self.flow_count();
        let mut a = Matrix::zeros(n, n);
        let mut b_bnd = Matrix::zeros(n, nb);
        let mut b_src = Matrix::zeros(n, ns);
        let mut w = Matrix::zeros(k, n);
        let mut d = Matrix::zeros(k, nb);
        let c = &self.capacity_j_per_k;
        for &(p, q, g) in &self.links {
            a[(p.0, p.0)] -= g / c[p.0];
            a[(p.0, q.0)] += g / c[p.0];
            a[(q.0, q.0)] -= g / c[q.0];
            a[(q.0, p.0)] += g / c[q.0];
        }
        for &(node, bnd, g) in &self.boundary_links {
            a[(node.0, node.0)] -= g / c[node.0];
            b_bnd[(node.0, bnd.0)] += g / c[node.0];
            w[(bnd.0, node.0)] += g;
            d[(bnd.0, bnd.0)] -= g;
        }
        for (l, link) in self.one_way_links.iter().enumerate() {
            let (f, t, g) = (link.from.0, link.to.0, link.g_w_per_k);
            a[(t, t)] -= g / c[t];
            a[(t, f)] += g / c[t];
            w[(nb + l, f)] += g;
            w[(nb + l, t)] -= g;
        }
        for (s, weights) in self.sources.iter().enumerate() {
            for &(node, weight) in weights {
                b_src[(node.0, s)] += weight / c[node.0];
            }
        }
        StateSpace {
            a,
            b_bnd,
            b_src,
            w,
            d,
        }
    }

    /// The exact discretisation for a step of `dt_s` seconds with inputs held constant.
    ///
    /// Cost O((n + flows + inputs)³ · log(‖A‖ dt)): build it once per step length and topology
    /// (the 10 ms control tick), or once for a single long jump.
    pub fn discretize(&self, dt_s: f64) -> Discretization {
        assert!(
            dt_s >= 0.0 && dt_s.is_finite(),
            "step length must be finite and ≥ 0"
        );
        let ss = self.state_space();
        let n = self.node_count();
        let nb = self.boundary_count;
        let ns = self.sources.len();
        let k = self.flow_count();
        let size = n + k + nb + ns;
        let mut m = Matrix::zeros(size, size);
        m.set_block(0, 0, &ss.a.scaled(dt_s));
        m.set_block(0, n + k, &ss.b_bnd.scaled(dt_s));
        m.set_block(0, n + k + nb, &ss.b_src.scaled(dt_s));
        m.set_block(n, 0, &ss.w.scaled(dt_s));
        m.set_block(n, n + k, &ss.d.scaled(dt_s));
        let e = expm(&m);
        // One operator on v = [x; T_b; P] giving [x(t+dt); flows]: the exact blocks side by side.
        let mut op = Matrix::zeros(n + k, n + nb + ns);
        op.set_block(0, 0, &e.block(0, 0, n, n));
        op.set_block(0, n, &e.block(0, n + k, n, nb + ns));
        op.set_block(n, 0, &e.block(n, 0, k, n));
        op.set_block(n, n, &e.block(n, n + k, k, nb + ns));
        Discretization {
            dt_s,
            nodes: n,
            operator: SparseRows::pruned(&op),
        }
    }

    /// The exact step of `dt_s` seconds for these particular inputs (boundaries `boundary_c` °C,
    /// sources `source_w` W per unit), for idle jumps. Builds the network's [`JumpBasis`] and
    /// discards it: keep the basis to make several lengths.
    pub fn discretize_held(&self, dt_s: f64, boundary_c: &[f64], source_w: &[f64]) -> HeldJump {
        self.jump_basis()
            .discretize_held(dt_s, boundary_c, source_w)
    }

    /// What every held jump on this network shares: its parts (nodes that exchange heat: a
    /// device lying off the body, its two tissue columns) and each part's modes.
    ///
    /// A part whose heat exchange is reciprocal (every link both ways, as conduction is) has
    /// `A = C⁻¹G` with `G` symmetric and `C` the diagonal of capacities, so `S = C½ A C-½` is
    /// symmetric: `S = Q Λ Qᵀ` with real rates `Λ` and orthonormal `Q`, and
    /// `e^{A t} = C-½ Q e^{Λ t} Qᵀ C½` for every `t` at once. A jump of any length then costs a
    /// few small matrix products instead of a matrix exponential: after a post-training skin
    /// change the rest wakes need three or four lengths (the remainder to the next wake, one
    /// wake with a tick folded in, the plain wake) on each new network. A part with a one-way
    /// link is not symmetric and keeps the exponential.
    pub fn jump_basis(&self) -> JumpBasis {
        let ss = self.state_space();
        let n = self.node_count();
        let k = self.flow_count();
        // Parts: nodes joined by a nonzero entry of A either way (union-find, smallest root).
        let mut root: Vec<usize> = (0..n).collect();
        fn find(root: &mut [usize], mut i: usize) -> usize {
            while root[i] != i {
                root[i] = root[root[i]];
                i = root[i];
            }
            i
        }
        for i in 0..n {
            for j in 0..n {
                if i != j && ss.a[(i, j)] != 0.0 {
                    let (ri, rj) = (find(&mut root, i), find(&mut root, j));
                    root[ri.max(rj)] = ri.min(rj);
                }
            }
        }
        let mut parts = Vec::new();
        for r in 0..n {
            if find(&mut root, r) != r {
                continue;
            }
            let nodes: Vec<usize> = (0..n).filter(|&i| find(&mut root, i) == r).collect();
            let flows: Vec<usize> = (0..k)
                .filter(|&f| nodes.iter().any(|&j| ss.w[(f, j)] != 0.0))
                .collect();
            let modes = Modes::of(&ss, &self.capacity_j_per_k, &nodes, &flows);
            parts.push(JumpPart {
                nodes,
                flows,
                modes,
            });
        }
        JumpBasis { ss, parts }
    }

    /// The steady state for constant inputs (`A x + B u = 0`), or `None` when some node has no
    /// conductive path to a boundary (then no steady state exists).
    pub fn steady_state(&self, boundary_c: &[f64], source_w: &[f64]) -> Option<Vec<f64>> {
        let ss = self.state_space();
        let n = self.node_count();
        let mut rhs = Matrix::zeros(n, 1);
        let mut col = vec![0.0; n];
        ss.b_bnd.mul_vec_add(boundary_c, &mut col);
        ss.b_src.mul_vec_add(source_w, &mut col);
        for (i, v) in col.iter().enumerate() {
            rhs[(i, 0)] = -v;
        }
        ss.a.solve(&rhs).map(|x| x.as_slice().to_vec())
    }

    /// A state at uniform temperature `temp_c` with zeroed flow accumulators.
    pub fn uniform_state(&self, temp_c: f64) -> ThermalState {
        self.state_from(&vec![temp_c; self.node_count()])
    }

    /// A state with the given node temperatures (°C) and zeroed flow accumulators.
    pub fn state_from(&self, temps_c: &[f64]) -> ThermalState {
        assert_eq!(temps_c.len(), self.node_count(), "one temperature per node");
        ThermalState {
            temps_c: temps_c.to_vec(),
            input: vec![
                0.0;
                (temps_c.len() + self.boundary_count + self.sources.len())
                    .max(STEP_INPUT_LEN)
            ],
            flow_j: vec![0.0; self.flow_count()],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct StateSpace {
    a: Matrix,
    b_bnd: Matrix,
    b_src: Matrix,
    w: Matrix,
    d: Matrix,
}

/// A network's parts with their modes, from which a held jump of any length is made (see
/// [`ThermalNetwork::jump_basis`]).
#[derive(Clone, Debug, PartialEq)]
pub struct JumpBasis {
    ss: StateSpace,
    parts: Vec<JumpPart>,
}

/// Nodes that exchange heat with each other and with no other node.
#[derive(Clone, Debug, PartialEq)]
struct JumpPart {
    nodes: Vec<usize>,
    /// The flow accumulators the part's nodes feed.
    flows: Vec<usize>,
    /// `None` for a part that is not symmetric (a one-way link) or whose decomposition failed:
    /// it takes the matrix exponential.
    modes: Option<Modes>,
}

/// Relative asymmetry of `C½ A C-½` above which a part is taken as not reciprocal: `g/cᵢ` and
/// `g/cⱼ` scaled back agree to a few ulps for a conductance, while a one-way link leaves one
/// side exactly zero.
const SYMMETRY_REL: f64 = 1e-12;

/// The modes of a reciprocal part: `x = to_nodes · y`, `y = to_modes · x`, `y' = rate ∘ y + β`.
#[derive(Clone, Debug, PartialEq)]
struct Modes {
    /// Eigenvalues of the part's `A`, 1/s (negative; zero for a part with no path to a boundary).
    rate: Vec<f64>,
    /// `C-½ Q` (p × p).
    to_nodes: Matrix,
    /// `Qᵀ C½` (p × p), the inverse of `to_nodes`.
    to_modes: Matrix,
    /// The part's flow rows from modal coordinates, `W C-½ Q` (q × p).
    flows_of_modes: Matrix,
}

impl Modes {
    fn of(ss: &StateSpace, caps: &[f64], nodes: &[usize], flows: &[usize]) -> Option<Modes> {
        let p = nodes.len();
        let root_c: Vec<f64> = nodes.iter().map(|&i| caps[i].sqrt()).collect();
        let mut s = Matrix::zeros(p, p);
        for (r, &i) in nodes.iter().enumerate() {
            for (c, &j) in nodes.iter().enumerate() {
                s[(r, c)] = root_c[r] * ss.a[(i, j)] / root_c[c];
            }
        }
        for r in 0..p {
            for c in r + 1..p {
                let (x, y) = (s[(r, c)], s[(c, r)]);
                if (x - y).abs() > SYMMETRY_REL * x.abs().max(y.abs()) {
                    return None;
                }
                let mean = 0.5 * (x + y);
                s[(r, c)] = mean;
                s[(c, r)] = mean;
            }
        }
        let (rate, q) = symmetric_eigen(&s)?;
        let mut to_nodes = Matrix::zeros(p, p);
        let mut to_modes = Matrix::zeros(p, p);
        for r in 0..p {
            for m in 0..p {
                to_nodes[(r, m)] = q[(r, m)] / root_c[r];
                to_modes[(m, r)] = q[(r, m)] * root_c[r];
            }
        }
        let flows_of_modes = part_flow_rows(ss, nodes, flows).mul(&to_nodes);
        Some(Modes {
            rate,
            to_nodes,
            to_modes,
            flows_of_modes,
        })
    }

    /// Writes the part's rows of the held jump over `dt_s` into `op` (see
    /// [`JumpBasis::discretize_held`]): with `y' = λ y + β` per mode,
    /// `y(t) = e^{λt} y₀ + φ₁ β` and `∫y = φ₁ y₀ + φ₂ β`, where `φ₁ = (e^{λt} − 1)/λ` and
    /// `φ₂ = (e^{λt} − 1 − λt)/λ²`.
    fn write_jump(&self, part: &JumpPart, dt_s: f64, b: &[f64], op: &mut Matrix) {
        let p = part.nodes.len();
        let b_part: Vec<f64> = part.nodes.iter().map(|&j| b[j]).collect();
        let mut beta = vec![0.0; p];
        self.to_modes.mul_vec_add(&b_part, &mut beta);
        let mut decay = vec![0.0; p];
        let mut phi1 = vec![0.0; p];
        let mut phi2 = vec![0.0; p];
        for m in 0..p {
            let (lambda, x) = (self.rate[m], self.rate[m] * dt_s);
            decay[m] = x.exp();
            if x.abs() < PHI_SERIES_BELOW {
                // φ₁ = t(1 + x/2 + x²/6 + ...), φ₂ = t²(1/2 + x/6 + x²/24 + ...): no cancellation.
                let (mut term, mut s1, mut s2, mut fact) = (1.0, 0.0, 0.0, 1.0);
                for j in 1..=PHI_SERIES_TERMS {
                    fact *= f64::from(j);
                    s1 += term / fact;
                    s2 += term / (fact * f64::from(j + 1));
                    term *= x;
                }
                phi1[m] = dt_s * s1;
                phi2[m] = dt_s * dt_s * s2;
            } else {
                let em1 = x.exp_m1();
                phi1[m] = em1 / lambda;
                phi2[m] = (em1 - x) / (lambda * lambda);
            }
        }
        // Φ = C-½Q · diag(e^{λt}) · QᵀC½ and the flow rows W C-½Q · diag(φ₁) · QᵀC½.
        let mut scaled = self.to_nodes.clone();
        scale_columns(&mut scaled, &decay);
        let phi = scaled.mul(&self.to_modes);
        let mut flow_scaled = self.flows_of_modes.clone();
        scale_columns(&mut flow_scaled, &phi1);
        let flow_rows = flow_scaled.mul(&self.to_modes);
        let forced: Vec<f64> = phi1.iter().zip(&beta).map(|(f, b)| f * b).collect();
        let flow_forced: Vec<f64> = phi2.iter().zip(&beta).map(|(f, b)| f * b).collect();
        let mut gamma = vec![0.0; p];
        self.to_nodes.mul_vec_add(&forced, &mut gamma);
        let mut flow_gamma = vec![0.0; part.flows.len()];
        self.flows_of_modes
            .mul_vec_add(&flow_forced, &mut flow_gamma);
        part.scatter(op, &phi, |r| gamma[r], &flow_rows, |a| flow_gamma[a]);
    }
}

impl JumpPart {
    /// Writes the part's block of a held jump into the whole network's operator `op` (on
    /// `[x; 1]`, `n` node rows then the flow rows): node rows `phi[(r, c)]` with constant
    /// `forced(r)`, flow rows `flow_rows[(a, c)]` with constant `flow_forced(a)`, added to the
    /// direct term already in that column. `r`, `c` index the part's nodes, `a` its flows.
    fn scatter(
        &self,
        op: &mut Matrix,
        phi: &Matrix,
        forced: impl Fn(usize) -> f64,
        flow_rows: &Matrix,
        flow_forced: impl Fn(usize) -> f64,
    ) {
        let n = op.cols() - 1;
        for (r, &i) in self.nodes.iter().enumerate() {
            for (c, &j) in self.nodes.iter().enumerate() {
                op[(i, j)] = phi[(r, c)];
            }
            op[(i, n)] = forced(r);
        }
        for (a, &f) in self.flows.iter().enumerate() {
            for (c, &j) in self.nodes.iter().enumerate() {
                op[(n + f, j)] = flow_rows[(a, c)];
            }
            op[(n + f, n)] += flow_forced(a);
        }
    }
}

/// The rows of `W` for a part's `flows`, over its `nodes` (q × p).
fn part_flow_rows(ss: &StateSpace, nodes: &[usize], flows: &[usize]) -> Matrix {
    let mut w_qp = Matrix::zeros(flows.len(), nodes.len());
    for (a, &f) in flows.iter().enumerate() {
        for (c, &j) in nodes.iter().enumerate() {
            w_qp[(a, c)] = ss.w[(f, j)];
        }
    }
    w_qp
}

/// Multiplies column `c` of `m` by `s[c]`.
fn scale_columns(m: &mut Matrix, s: &[f64]) {
    let cols = m.cols();
    for r in 0..m.rows() {
        for (c, x) in s.iter().enumerate().take(cols) {
            m[(r, c)] *= x;
        }
    }
}

/// Below this |λ t| the φ functions are summed as series: `e^x − 1 − x` loses ~|log₁₀ x|
/// digits to cancellation as x shrinks, the series none.
const PHI_SERIES_BELOW: f64 = 1e-2;

/// Terms of the φ series: the first left out is below x⁸/8! < 1e-20 of the sum at |x| < 1e-2.
const PHI_SERIES_TERMS: u32 = 8;

impl JumpBasis {
    /// Number of parts made from their modes (the others take a matrix exponential per length).
    pub fn modal_parts(&self) -> usize {
        self.parts.iter().filter(|p| p.modes.is_some()).count()
    }

    /// The exact step of `dt_s` seconds for these particular inputs (boundaries `boundary_c` °C,
    /// sources `source_w` W per unit), for idle jumps.
    ///
    /// With the inputs fixed, their whole effect is one column `b = B u` of the augmented matrix
    /// instead of one per input, and each part of the network gets its own, much smaller,
    /// solution: from its modes (see [`ThermalNetwork::jump_basis`]) or its own matrix
    /// exponential. Both are exact rewritings of [`ThermalNetwork::discretize`]'s construction:
    /// the result differs only by roundoff. The direct flow term `D T_b` is constant over the
    /// step and is added as `D T_b dt`.
    pub fn discretize_held(&self, dt_s: f64, boundary_c: &[f64], source_w: &[f64]) -> HeldJump {
        assert!(
            dt_s >= 0.0 && dt_s.is_finite(),
            "step length must be finite and ≥ 0"
        );
        let ss = &self.ss;
        let n = ss.a.rows();
        let k = ss.w.rows();
        let mut b = vec![0.0; n];
        ss.b_bnd.mul_vec_add(boundary_c, &mut b);
        ss.b_src.mul_vec_add(source_w, &mut b);
        let mut direct = vec![0.0; k];
        ss.d.mul_vec_add(boundary_c, &mut direct);
        // One operator on [x; 1] giving [x(t+dt); flows over the step].
        let mut op = Matrix::zeros(n + k, n + 1);
        for (f, d) in direct.iter().enumerate() {
            op[(n + f, n)] = d * dt_s;
        }
        for part in &self.parts {
            match &part.modes {
                Some(modes) => modes.write_jump(part, dt_s, &b, &mut op),
                None => exponential_jump(ss, part, dt_s, &b, &mut op),
            }
        }
        // The rows over x, and the constant column (the held inputs' contribution) as forcing.
        let mut dense = Vec::with_capacity((n + k) * n);
        let mut forcing = Vec::with_capacity(n + k);
        for r in 0..n + k {
            dense.extend((0..n).map(|c| op[(r, c)]));
            forcing.push(op[(r, n)]);
        }
        HeldJump {
            dt_s,
            boundary_c: boundary_c.to_vec(),
            source_w: source_w.to_vec(),
            step: HeldInputStep::from_rows(
                n,
                Vec::new(),
                dense,
                forcing,
                self.parts.iter().map(|p| p.nodes.as_slice()),
            ),
            fixed_point: Vec::new(),
        }
    }
}

/// A part's rows of the held jump by its own matrix exponential (a part that is not reciprocal).
fn exponential_jump(ss: &StateSpace, part: &JumpPart, dt_s: f64, b: &[f64], op: &mut Matrix) {
    let p = part.nodes.len();
    let nodes = &part.nodes;
    // The part's state with its constant input: [x; 1]' = [A b; 0 0]·[x; 1].
    let mut m = Matrix::zeros(p + 1, p + 1);
    for (a, &i) in nodes.iter().enumerate() {
        for (c, &j) in nodes.iter().enumerate() {
            m[(a, c)] = ss.a[(i, j)] * dt_s;
        }
        m[(a, p)] = b[i] * dt_s;
    }
    let e = expm(&m);
    let flow_rows = if part.flows.is_empty() {
        Matrix::zeros(0, p + 1)
    } else {
        exponential_flow_rows(ss, part, dt_s, b, &m, &e)
    };
    part.scatter(op, &e, |r| e[(r, p)], &flow_rows, |a| flow_rows[(a, p)]);
}

/// The flow rows (q × (p + 1), the last column constant) of a part's held jump whose exponential
/// `e` of `m` = `[A b; 0 0]·dt` is known.
///
/// The flows integrate W x over the step. With x' = A x + b, that integral is
/// A⁻¹(x(dt) − x(0) − b dt) = A⁻¹(Φ − I)·x(0) + A⁻¹(γ − b dt): one solve with the part's own A
/// instead of carrying the flows through the exponential (which made it p + q + 1 wide, ~1.6×
/// the work at the plant's sizes). A part always reaches a boundary, so its A is invertible; if
/// it were not, the flows fall back to the augmented exponential.
fn exponential_flow_rows(
    ss: &StateSpace,
    part: &JumpPart,
    dt_s: f64,
    b: &[f64],
    m: &Matrix,
    e: &Matrix,
) -> Matrix {
    let (p, nodes) = (part.nodes.len(), &part.nodes);
    let mut a_pp = Matrix::zeros(p, p);
    let mut rhs = Matrix::zeros(p, p + 1);
    for (r, &i) in nodes.iter().enumerate() {
        for (c, &j) in nodes.iter().enumerate() {
            a_pp[(r, c)] = ss.a[(i, j)];
            rhs[(r, c)] = e[(r, c)] - if r == c { 1.0 } else { 0.0 };
        }
        rhs[(r, p)] = e[(r, p)] - b[i] * dt_s;
    }
    let w_qp = part_flow_rows(ss, nodes, &part.flows);
    match a_pp.solve(&rhs) {
        Some(integral) => w_qp.mul(&integral),
        None => augmented_flow_rows(m, &w_qp, dt_s),
    }
}

/// Entries smaller than this fraction of their row's largest entry are dropped from the step
/// operator. Heat spreads only a few nodes per 10 ms tick, so Φ and Γ are numerically banded
/// (entries fall like (dt/τ)^d/d! with graph distance d): about two thirds of the plant's Φ is
/// below 1e-17 and would cost multiplies for nothing. A dropped entry changes its row by at most
/// 1e-17 × (largest entry) × |input| (inputs ≤ ~100 °C or W), i.e. at the double-precision
/// roundoff of the row sum itself: the step stays exact to working precision.
pub const PRUNE_REL: f64 = 1e-17;

/// Row-compressed sparse matrix: the allocation-free hot-path kernel of the step.
#[derive(Clone, Debug, PartialEq)]
struct SparseRows {
    row_start: Vec<u32>,
    col: Vec<u32>,
    val: Vec<f64>,
}

impl SparseRows {
    /// Keeps the entries of `m` above [`PRUNE_REL`] of their row's largest magnitude.
    fn pruned(m: &Matrix) -> SparseRows {
        let mut row_start = vec![0u32];
        let mut col = Vec::new();
        let mut val = Vec::new();
        for r in 0..m.rows() {
            let row = m.row(r);
            let big = row.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            for (c, &v) in row.iter().enumerate() {
                if v != 0.0 && v.abs() >= PRUNE_REL * big {
                    col.push(u32::try_from(c).expect("networks are small"));
                    val.push(v);
                }
            }
            row_start.push(u32::try_from(col.len()).expect("networks are small"));
        }
        SparseRows {
            row_start,
            col,
            val,
        }
    }

    /// Row `r` times `v`.
    #[inline]
    fn row_dot(&self, r: usize, v: &[f64]) -> f64 {
        let (a, b) = (self.row_start[r] as usize, self.row_start[r + 1] as usize);
        self.col[a..b]
            .iter()
            .zip(&self.val[a..b])
            .map(|(&c, &x)| x * v[c as usize])
            .sum()
    }
}

/// The exact step operator of one network for one step length.
#[derive(Clone, Debug, PartialEq)]
pub struct Discretization {
    dt_s: f64,
    nodes: usize,
    operator: SparseRows,
}

impl Discretization {
    /// The step length this discretisation advances, s.
    pub fn dt_s(&self) -> f64 {
        self.dt_s
    }

    /// Number of stored operator entries (after pruning): the per-step multiply count.
    pub fn operator_entries(&self) -> usize {
        self.operator.val.len()
    }

    /// Advances `state` by one step with boundary temperatures `boundary_c` (°C) and source inputs
    /// `source_w` (W per unit) held constant, and adds the step's heat flows (J) to
    /// `state.flow_j`. Allocation-free.
    pub fn step(&self, state: &mut ThermalState, boundary_c: &[f64], source_w: &[f64]) {
        let n = self.nodes;
        let ThermalState {
            temps_c,
            input,
            flow_j,
        } = state;
        input[..n].copy_from_slice(temps_c);
        input[n..n + boundary_c.len()].copy_from_slice(boundary_c);
        let width = n + boundary_c.len() + source_w.len();
        input[n + boundary_c.len()..width].copy_from_slice(source_w);
        let input = &input[..width];
        for (r, t) in temps_c.iter_mut().enumerate() {
            *t = self.operator.row_dot(r, input);
        }
        for (r, f) in flow_j.iter_mut().enumerate() {
            *f += self.operator.row_dot(n + r, input);
        }
    }
}

/// The flow rows of a part the slow way, for a part whose own A is singular (no path to a
/// boundary): the flows ride along in the exponential, `[[A dt, b dt, 0]; [W dt, 0, 0]; 0]`.
/// `m` is the part's `[A dt, b dt; 0, 0]` (p + 1 wide), `w_qp` its flow rows.
fn augmented_flow_rows(m: &Matrix, w_qp: &Matrix, dt_s: f64) -> Matrix {
    let p = m.rows() - 1;
    let q = w_qp.rows();
    let mut big = Matrix::zeros(p + q + 1, p + q + 1);
    for r in 0..p {
        for c in 0..p {
            big[(r, c)] = m[(r, c)];
        }
        big[(r, p + q)] = m[(r, p)];
    }
    for a in 0..q {
        for c in 0..p {
            big[(p + a, c)] = w_qp[(a, c)] * dt_s;
        }
    }
    let e = expm(&big);
    let mut rows = Matrix::zeros(q, p + 1);
    for a in 0..q {
        for c in 0..p {
            rows[(a, c)] = e[(p + a, c)];
        }
        rows[(a, p)] = e[(p + a, p + q)];
    }
    rows
}

/// Rows per block of the held step: two SSE2 vectors of two f64.
const LANES: usize = 4;

/// Length of a step's input buffer ([`ThermalState`]'s `[x; inputs]`), at least: a power of two
/// above every network's width (the plant's are under 60 wide), so the row loops read it as a
/// fixed array through an index mask, with no bounds check per column (a rest wake's 60 s jump
/// spent ~470 of its ~1,300 instructions on them).
const STEP_INPUT_LEN: usize = 128;

/// A [`Discretization`] specialised to boundary temperatures and most sources held at fixed
/// values, for the control tick.
///
/// The plant's boundaries (ambient, arterial, core) and metabolic sources change only at events,
/// so their whole contribution to a step is one constant *forcing* vector, computed once; the
/// step then multiplies only the state and the few sources that change every tick (LED heat,
/// absorbed light). The rows are grouped in blocks of four; each block keeps the input
/// columns that reach any of its rows (the pruned operator is nearly banded), as four values,
/// and accumulates them in registers: one broadcast and two vector multiply-adds per entry, no
/// per-entry index into the rows and no store until the block is done.
///
/// The heat flows are linear in the step's input, so they are computed lazily: a step only adds
/// its input vector to [`PendingFlows`], and [`HeldInputStep::flush`] applies the flow rows to the
/// sum once (the same total up to roundoff, ~1e-15 relative).
#[derive(Clone, Debug, PartialEq)]
pub struct HeldInputStep {
    nodes: usize,
    varying: Vec<usize>,
    /// The rows of each block (the first `len` of `rows`): blocks never straddle two parts of
    /// the network, whose rows have no column in common.
    blocks: Vec<RowBlock>,
    /// The held inputs' contribution to each block.
    forcing: Vec<[f64; LANES]>,
    /// Entries of block `k` are `block_start[k]..block_start[k + 1]`.
    block_start: Vec<u32>,
    /// Input column of each entry (into `[x; varying sources]`).
    cols: Vec<u32>,
    /// The entry's values for the block's rows.
    vals: Vec<[f64; LANES]>,
    /// Flow rows over the compact input `[x; varying sources]`, row-major.
    flow_rows: Vec<f64>,
    flow_forcing: Vec<f64>,
}

/// Up to [`LANES`] node rows stepped together.
#[derive(Clone, Debug, PartialEq)]
struct RowBlock {
    rows: [u32; LANES],
    len: usize,
}

/// Step inputs summed since the flows were last brought up to date (see [`HeldInputStep`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PendingFlows {
    sum_input: Vec<f64>,
    steps: u64,
}

impl PendingFlows {
    /// Whether any step is waiting to be accounted.
    pub fn is_empty(&self) -> bool {
        self.steps == 0
    }
}

impl Discretization {
    /// This step with the boundaries at `boundary_c` (°C) and every source not in `varying` held at
    /// its value in `source_w` (W per unit); the `varying` sources are given at each step.
    pub fn with_held_inputs(
        &self,
        boundary_c: &[f64],
        source_w: &[f64],
        varying: &[SourceId],
    ) -> HeldInputStep {
        let n = self.nodes;
        let op = &self.operator;
        let rows = op.row_start.len() - 1;
        let nb = boundary_c.len();
        let nv = varying.len();
        let width = n + nv;
        // The constant input vector [T_b; P with the varying sources zeroed].
        let mut held: Vec<f64> = boundary_c.iter().chain(source_w).copied().collect();
        for s in varying {
            held[nb + s.0] = 0.0;
        }
        let mut dense = vec![0.0; rows * width];
        let mut forcing = vec![0.0; rows];
        for (r, f) in forcing.iter_mut().enumerate() {
            let (a, b) = (op.row_start[r] as usize, op.row_start[r + 1] as usize);
            for (&c, &v) in op.col[a..b].iter().zip(&op.val[a..b]) {
                let c = c as usize;
                if c < n {
                    dense[r * width + c] = v;
                } else {
                    *f += v * held[c - n];
                    if let Some(k) = varying.iter().position(|s| n + nb + s.0 == c) {
                        dense[r * width + n + k] = v;
                    }
                }
            }
        }
        let all: Vec<usize> = (0..n).collect();
        HeldInputStep::from_rows(
            n,
            varying.iter().map(|s| s.0).collect(),
            dense,
            forcing,
            std::iter::once(all.as_slice()),
        )
    }
}

impl HeldInputStep {
    /// The step from its rows over `[x; varying sources]`: `dense` is row-major, `n` node rows
    /// then the flow rows, each `n + varying.len()` wide; `forcing` is the held inputs'
    /// contribution to each row. `groups` partitions the node rows (the parts of the network,
    /// or all rows as one): each group's rows are blocked four by four in order.
    fn from_rows<'g>(
        n: usize,
        varying: Vec<usize>,
        mut dense: Vec<f64>,
        mut forcing: Vec<f64>,
        groups: impl Iterator<Item = &'g [usize]>,
    ) -> Self {
        let width = n + varying.len();
        assert!(
            width <= STEP_INPUT_LEN,
            "a step reads at most {STEP_INPUT_LEN} states and inputs, not {width}"
        );
        let mut blocks = Vec::new();
        for group in groups {
            for rows in group.chunks(LANES) {
                let mut block = RowBlock {
                    rows: [0; LANES],
                    len: rows.len(),
                };
                for (slot, &r) in block.rows.iter_mut().zip(rows) {
                    *slot = u32::try_from(r).expect("networks are small");
                }
                blocks.push(block);
            }
        }
        debug_assert_eq!(blocks.iter().map(|b| b.len).sum::<usize>(), n);
        let at = |block: &RowBlock, lane: usize, col: usize| {
            if lane < block.len {
                dense[block.rows[lane] as usize * width + col]
            } else {
                0.0
            }
        };
        let mut block_start = vec![0u32];
        let mut cols = Vec::new();
        let mut vals = Vec::new();
        for block in &blocks {
            for col in 0..width {
                let w: [f64; LANES] = core::array::from_fn(|l| at(block, l, col));
                if w.iter().any(|&x| x != 0.0) {
                    cols.push(u32::try_from(col).expect("networks are small"));
                    vals.push(w);
                }
            }
            block_start.push(u32::try_from(cols.len()).expect("networks are small"));
        }
        let block_forcing = blocks
            .iter()
            .map(|block| {
                core::array::from_fn(|l| {
                    if l < block.len {
                        forcing[block.rows[l] as usize]
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        HeldInputStep {
            nodes: n,
            varying,
            blocks,
            forcing: block_forcing,
            block_start,
            cols,
            vals,
            flow_rows: dense.split_off(n * width),
            flow_forcing: forcing.split_off(n),
        }
    }

    /// Number of sources given at each step.
    pub fn varying_count(&self) -> usize {
        self.varying.len()
    }

    /// Number of stored four-row entries: the per-step multiply count over four.
    pub fn entries(&self) -> usize {
        self.vals.len()
    }

    /// Advances `state` by one step with the varying sources at `varying_w` (W per unit, in the
    /// order given to [`Discretization::with_held_inputs`]); the step's flows go to `pending`.
    /// Allocation-free after the first step with a given `pending`.
    pub fn step(&self, state: &mut ThermalState, varying_w: &[f64], pending: &mut PendingFlows) {
        self.advance_rows(state, varying_w);
        let width = self.nodes + self.varying.len();
        self.add_pending(&state.input[..width], pending);
    }

    /// Adds a step's input `[x before; varying_w]` to `pending`.
    fn add_pending(&self, v: &[f64], pending: &mut PendingFlows) {
        let width = self.nodes + self.varying.len();
        debug_assert_eq!(v.len(), width, "a whole step input");
        if pending.sum_input.len() != width {
            pending.sum_input = vec![0.0; width];
        }
        for (s, x) in pending.sum_input.iter_mut().zip(v) {
            *s += x;
        }
        pending.steps += 1;
    }

    /// Advances `state` by one step with no varying sources and adds the step's flows to
    /// `state.flow_j` at once (a jump: nothing is pending after it). Allocation-free.
    pub fn step_settled(&self, state: &mut ThermalState) {
        let width = self.nodes + self.varying.len();
        self.advance_rows(state, &[]);
        let ThermalState { input, flow_j, .. } = state;
        let v = &input[..width];
        for ((f, row), forcing) in flow_j
            .iter_mut()
            .zip(self.flow_rows.chunks_exact(width))
            .zip(&self.flow_forcing)
        {
            *f += row.iter().zip(v).map(|(a, x)| a * x).sum::<f64>() + forcing;
        }
    }

    /// The node rows of a step: `state.input` keeps `[x before; varying_w]` for the flows.
    fn advance_rows(&self, state: &mut ThermalState, varying_w: &[f64]) {
        let n = self.nodes;
        let width = n + self.varying.len();
        assert_eq!(
            varying_w.len(),
            self.varying.len(),
            "one value per varying source"
        );
        let ThermalState { temps_c, input, .. } = state;
        input[..n].copy_from_slice(temps_c);
        input[n..width].copy_from_slice(varying_w);
        // Every column index is below `width` ≤ STEP_INPUT_LEN (checked when the rows were
        // made), so the mask changes nothing but lets the compiler drop the bounds checks.
        let v: &[f64; STEP_INPUT_LEN] = input[..STEP_INPUT_LEN]
            .try_into()
            .expect("a step's input buffer holds STEP_INPUT_LEN values");
        let at = |c: u32| v[c as usize % STEP_INPUT_LEN];
        for (k, (block, f)) in self.blocks.iter().zip(&self.forcing).enumerate() {
            let (a, b) = (
                self.block_start[k] as usize,
                self.block_start[k + 1] as usize,
            );
            // Two accumulators, even and odd entries: the additions form two dependency chains
            // instead of one, so the adder's latency no longer sets the pace.
            let (cols, vals) = (&self.cols[a..b], &self.vals[a..b]);
            let mut y = *f;
            let mut z = [0.0; LANES];
            for (c, w) in cols.chunks_exact(2).zip(vals.chunks_exact(2)) {
                let (x0, x1) = (at(c[0]), at(c[1]));
                let (w0, w1) = (w[0], w[1]);
                y = [
                    y[0] + w0[0] * x0,
                    y[1] + w0[1] * x0,
                    y[2] + w0[2] * x0,
                    y[3] + w0[3] * x0,
                ];
                z = [
                    z[0] + w1[0] * x1,
                    z[1] + w1[1] * x1,
                    z[2] + w1[2] * x1,
                    z[3] + w1[3] * x1,
                ];
            }
            if let (Some(&c), Some(w)) = (cols.last(), vals.last())
                && cols.len() % 2 == 1
            {
                let x = at(c);
                y = [
                    y[0] + w[0] * x,
                    y[1] + w[1] * x,
                    y[2] + w[2] * x,
                    y[3] + w[3] * x,
                ];
            }
            let y = [y[0] + z[0], y[1] + z[1], y[2] + z[2], y[3] + z[3]];
            for (&r, y) in block.rows[..block.len].iter().zip(y) {
                temps_c[r as usize] = y;
            }
        }
    }

    /// Heat (J) the pending steps carried through flow accumulator `flow` (see
    /// [`ThermalNetwork::flow_count`]).
    pub fn pending_flow_j(&self, pending: &PendingFlows, flow: usize) -> f64 {
        if pending.steps == 0 {
            return 0.0;
        }
        let width = self.nodes + self.varying.len();
        let row = &self.flow_rows[flow * width..(flow + 1) * width];
        row.iter()
            .zip(&pending.sum_input)
            .map(|(a, s)| a * s)
            .sum::<f64>()
            + self.flow_forcing[flow] * pending.steps as f64
    }

    /// Adds the pending steps' flows to `state.flow_j` and clears `pending`.
    pub fn flush(&self, pending: &mut PendingFlows, state: &mut ThermalState) {
        if pending.steps == 0 {
            return;
        }
        for (k, f) in state.flow_j.iter_mut().enumerate() {
            *f += self.pending_flow_j(pending, k);
        }
        pending.sum_input.fill(0.0);
        pending.steps = 0;
    }
}

/// The exact step of one network for one step length and one set of inputs (see
/// [`ThermalNetwork::discretize_held`]).
#[derive(Clone, Debug, PartialEq)]
pub struct HeldJump {
    dt_s: f64,
    boundary_c: Vec<f64>,
    source_w: Vec<f64>,
    /// The step on the state alone, the held inputs folded into its forcing.
    step: HeldInputStep,
    /// A state this jump leaves where it is, bit for bit, once a step has found one (empty
    /// before): from it the next step computes the same bits from the same bits, so a jump from
    /// it only adds its flows. After a few hours at rest most of the firmware's 60 s wakes start
    /// there.
    fixed_point: Vec<f64>,
}

impl HeldJump {
    /// Whether this is the step for `dt_s` seconds with these inputs.
    pub fn is_for(&self, dt_s: f64, boundary_c: &[f64], source_w: &[f64]) -> bool {
        self.dt_s == dt_s && self.boundary_c == boundary_c && self.source_w == source_w
    }

    /// Advances `state` by the step; its heat flows go to `pending` (see
    /// [`HeldJump::flush`]). From the jump's fixed point ([`Self::fixed_point`]) the state
    /// stays and only the flows are added, the same bits without the matrix-vector product.
    /// Allocation-free after the first step with a given `pending`, but for the copy of a
    /// fixed point when a step first finds one.
    pub fn step(&mut self, state: &mut ThermalState, pending: &mut PendingFlows) {
        let same = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        };
        // The step's input is `[x before]` (no varying sources): at the fixed point, the state.
        if same(&self.fixed_point, &state.temps_c) {
            self.step.add_pending(&state.temps_c, pending);
            return;
        }
        self.step.step(state, &[], pending);
        if same(&state.temps_c, &state.input[..self.step.nodes]) {
            self.fixed_point.clone_from(&state.temps_c);
        }
    }

    /// The state this jump was found to leave where it is, if a step has found one.
    pub fn fixed_point(&self) -> Option<&[f64]> {
        (!self.fixed_point.is_empty()).then_some(self.fixed_point.as_slice())
    }

    /// Advances `state` by the step and adds its heat flows (J) to `state.flow_j` at once.
    /// Allocation-free.
    pub fn step_settled(&self, state: &mut ThermalState) {
        self.step.step_settled(state);
    }

    /// Heat (J) the pending steps carried through flow accumulator `flow`.
    pub fn pending_flow_j(&self, pending: &PendingFlows, flow: usize) -> f64 {
        self.step.pending_flow_j(pending, flow)
    }

    /// Adds the pending steps' flows to `state.flow_j` and clears `pending`.
    pub fn flush(&self, pending: &mut PendingFlows, state: &mut ThermalState) {
        self.step.flush(pending, state);
    }
}

/// Node temperatures and heat-flow accumulators of one network; owns its step buffer so a step
/// never allocates.
#[derive(Clone, Debug, PartialEq)]
pub struct ThermalState {
    /// Node temperatures, °C, indexed by [`NodeId::index`].
    pub temps_c: Vec<f64>,
    /// The step's input vector [x; T_b; P], reused every step.
    input: Vec<f64>,
    /// Accumulated heat flows, J: out to each boundary, then in through each one-way link
    /// (see [`ThermalNetwork::flow_count`]). Reset by the owner as it likes.
    pub flow_j: Vec<f64>,
}

impl ThermalState {
    /// Temperature of one node, °C.
    pub fn temp_c(&self, node: NodeId) -> f64 {
        self.temps_c[node.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Closed-form single-RC checks are limited by expm roundoff only (Higham 2005: backward
    /// error at unit roundoff), a few ulps of the temperatures involved.
    const CLOSED_FORM_TOL_K: f64 = 1e-10;

    /// Scaling and squaring represents a slow mode λ through e^{λh}, h = dt/2^s ≈ θ₁₃/‖A‖, whose
    /// roundoff ε is a relative error ε‖A‖/(θ₁₃|λ|) in the rate: here ‖A‖ = 1e6 /s (a 1 µs node),
    /// λ = 1e-3 /s, θ₁₃ = 5.4, so ≈ 4e-8 of a 22 K rise ≈ 1e-6 K. The plant's stiffest node is
    /// ~500 /s, which puts the same error near 1e-10 K.
    const STIFF_JUMP_TOL_K: f64 = 1e-5;

    /// Energy balance tolerance demanded by the brief (0.1 % of the energy throughput).
    const ENERGY_BALANCE_REL: f64 = 1e-3;

    /// One long exact step against N exact short steps differ only by the roundoff of N products
    /// Φ·x (N ≤ 2000 here): ~N·ε·|T| ≈ 2000 · 2e-16 · 100 K ≈ 4e-11 K, with margin.
    const JUMP_VS_STEPS_TOL_K: f64 = 1e-8;

    #[test]
    fn single_rc_matches_exponential() {
        let mut net = ThermalNetwork::new();
        let node = net.add_node(2.0);
        let amb = net.add_boundary();
        net.link_boundary(node, amb, 0.5); // τ = 4 s, steady rise P/g
        let heater = net.add_source(&[(node, 1.0)]);
        let d = net.discretize(3.0);
        let mut st = net.uniform_state(20.0);
        d.step(&mut st, &[25.0], &[1.5]);
        let steady = 25.0 + 1.5 / 0.5;
        let want = steady + (20.0 - steady) * (-3.0f64 / 4.0).exp();
        assert!(
            (st.temp_c(node) - want).abs() < CLOSED_FORM_TOL_K,
            "{} vs {want}",
            st.temp_c(node)
        );
        // Heat to ambient = ∫ g (T − T_amb) dt in closed form.
        let flow = 0.5 * ((steady - 25.0) * 3.0 + (20.0 - steady) * 4.0 * (1.0 - (-0.75f64).exp()));
        assert!((st.flow_j[amb.index()] - flow).abs() < CLOSED_FORM_TOL_K);
        assert_eq!(net.source_gain(heater), 1.0);
    }

    #[test]
    fn stiff_node_with_long_step_stays_bounded() {
        // τ_j = 1 µs junction on a 1000 s board, one 16 h step: exact means no blow-up.
        let mut net = ThermalNetwork::new();
        let j = net.add_node(1e-6);
        let b = net.add_node(100.0);
        let amb = net.add_boundary();
        net.link(j, b, 1.0);
        net.link_boundary(b, amb, 0.1); // τ ≈ 1000 s: after 16 h the state is steady to e^-57
        net.add_source(&[(j, 1.0)]);
        let d = net.discretize(16.0 * 3600.0);
        let mut st = net.uniform_state(25.0);
        d.step(&mut st, &[25.0], &[2.0]);
        let steady = net.steady_state(&[25.0], &[2.0]).expect("grounded");
        for (got, want) in st.temps_c.iter().zip(&steady) {
            assert!((got - want).abs() < STIFF_JUMP_TOL_K, "{got} vs {want}");
        }
    }

    #[test]
    fn one_way_link_does_not_load_its_source() {
        let mut with = ThermalNetwork::new();
        let h = with.add_node(50.0);
        let amb = with.add_boundary();
        with.link_boundary(h, amb, 1.0);
        with.add_source(&[(h, 1.0)]);
        let probe = with.add_node(5.0);
        with.link_one_way(h, probe, 2.0);
        let d = with.discretize(100.0);
        let mut st = with.uniform_state(20.0);
        d.step(&mut st, &[20.0], &[10.0]);
        // The housing follows its own single-RC response exactly, as if the probe were absent.
        let want = 30.0 + (20.0 - 30.0) * (-100.0f64 / 50.0).exp();
        assert!((st.temp_c(h) - want).abs() < CLOSED_FORM_TOL_K);
        assert!(st.temp_c(probe) > 20.0, "the probe must feel the housing");
        // Heat into the probe through the link is its stored-energy change (it has no other path).
        let probe_heat = 5.0 * (st.temp_c(probe) - 20.0);
        assert!((st.flow_j[1] - probe_heat).abs() < CLOSED_FORM_TOL_K * 10.0 * probe_heat.max(1.0));
    }

    /// A random ladder network like the plant's: a junction, board, housing, and a tissue chain
    /// with perfusion to an arterial boundary and a one-way probe, all parameters drawn.
    fn random_network(p: &[f64]) -> (ThermalNetwork, usize) {
        let mut net = ThermalNetwork::new();
        let amb = net.add_boundary();
        let art = net.add_boundary();
        let j = net.add_node(0.1 + p[0]);
        let b = net.add_node(10.0 + 100.0 * p[1]);
        let h = net.add_node(50.0 + 500.0 * p[2]);
        net.link(j, b, 0.5 + 5.0 * p[3]);
        net.link(b, h, 0.5 + 5.0 * p[4]);
        net.link_boundary(h, amb, 0.1 + p[5]);
        let mut prev = h;
        let mut tissue = Vec::new();
        for i in 0..5 {
            let t = net.add_node(1.0 + 10.0 * p[6 + i]);
            net.link(prev, t, 0.2 + 2.0 * p[11 + i]);
            net.link_boundary(t, art, 0.01 + 0.1 * p[16 + i]);
            tissue.push((t, 0.2));
            prev = t;
        }
        let probe = net.add_node(1.0 + p[21]);
        net.link_one_way(h, probe, 0.3);
        net.link_boundary(probe, art, 0.05);
        net.add_source(&[(j, 1.0)]);
        net.add_source(&tissue);
        (net, 2)
    }

    /// Two exact constructions of the same step (one input column or many, per part or whole)
    /// build matrices of different norms, so scaling and squaring uses different squaring counts
    /// for them. Each represents a slow mode λ with a relative rate error up to ε‖A‖/(θ₁₃|λ|)
    /// (see `STIFF_JUMP_TOL_K`): for the random networks here (‖A‖ ≲ 60 /s, slowest λ ≳ 1e-5 /s)
    /// ~1e-10, amplified over up to ~20 squarings of a 1e5 s step. Compared relative to the
    /// larger value (temperatures ~100 K, flows up to ~1e5 J).
    const SAME_STEP_REL: f64 = 1e-7;

    /// The first pair of values that differ beyond [`SAME_STEP_REL`], if any.
    fn same_step(a: &ThermalState, b: &ThermalState) -> Option<String> {
        for (x, y) in a
            .temps_c
            .iter()
            .zip(&b.temps_c)
            .chain(a.flow_j.iter().zip(&b.flow_j))
        {
            if (x - y).abs() > SAME_STEP_REL * x.abs().max(y.abs()).max(1.0) {
                return Some(format!("{x} vs {y}"));
            }
        }
        None
    }

    /// A network of two parts that exchange no heat (a device off the body and a tissue column),
    /// with a zero one-way link between them, as the plant builds it.
    fn two_part_network() -> ThermalNetwork {
        let mut net = ThermalNetwork::new();
        let amb = net.add_boundary();
        let art = net.add_boundary();
        let j = net.add_node(0.05);
        let h = net.add_node(300.0);
        net.link(j, h, 2.0);
        net.link_boundary(h, amb, 0.5);
        let s = net.add_node(5.0);
        let d = net.add_node(20.0);
        net.link(s, d, 1.0);
        net.link_boundary(s, amb, 0.4);
        net.link_boundary(d, art, 0.2);
        net.link_one_way(h, s, 0.0);
        net.add_source(&[(j, 1.0)]);
        net.add_source(&[(s, 0.3), (d, 0.7)]);
        net
    }

    #[test]
    fn held_jump_of_a_network_in_parts_equals_the_full_step() {
        let net = two_part_network();
        assert_eq!(
            net.jump_basis().modal_parts(),
            2,
            "both parts are reciprocal"
        );
        for dt in [0.01, 60.0, 57_600.0] {
            let (bnd, src) = ([21.0, 37.0], [3.0, 0.5]);
            let mut a = net.state_from(&[30.0, 28.0, 33.0, 36.0]);
            let mut b = a.clone();
            net.discretize(dt).step(&mut a, &bnd, &src);
            net.discretize_held(dt, &bnd, &src).step_settled(&mut b);
            if let Some(e) = same_step(&a, &b) {
                panic!("dt {dt}: {e}");
            }
        }
    }

    /// Steps `jump` from `state` until it finds its fixed point (bounded).
    fn rest_at_fixed_point(jump: &mut HeldJump, state: &mut ThermalState) {
        let mut pending = PendingFlows::default();
        let mut steps = 0;
        while jump.fixed_point().is_none() {
            jump.step(state, &mut pending);
            steps += 1;
            assert!(steps < 100_000, "60 s jumps never came to rest");
        }
        assert!(steps > 1, "the state started away from the steady state");
    }

    #[test]
    fn a_jump_from_its_fixed_point_gives_the_stepped_bits() {
        let net = two_part_network();
        let (bnd, src) = ([21.0, 37.0], [3.0, 0.5]);
        let mut jump = net.discretize_held(60.0, &bnd, &src);
        let mut state = net.state_from(&[30.0, 28.0, 33.0, 36.0]);
        rest_at_fixed_point(&mut jump, &mut state);
        assert_eq!(jump.fixed_point(), Some(state.temps_c.as_slice()));
        // A fresh build of the same jump knows no fixed point: it takes the full step.
        let (mut stepped, mut stepped_pending) = (state.clone(), PendingFlows::default());
        let mut pending = PendingFlows::default();
        for _ in 0..3 {
            net.discretize_held(60.0, &bnd, &src)
                .step(&mut stepped, &mut stepped_pending);
            jump.step(&mut state, &mut pending);
        }
        assert_eq!(stepped.temps_c, state.temps_c);
        assert_eq!(stepped_pending, pending);
        jump.flush(&mut stepped_pending, &mut stepped);
        jump.flush(&mut pending, &mut state);
        let bits = |s: &ThermalState| s.flow_j.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&stepped), bits(&state));
        assert!(state.flow_j.iter().any(|f| f.abs() > 1.0), "heat flowed");
    }

    #[test]
    fn a_state_one_ulp_off_the_fixed_point_takes_the_full_step() {
        let net = two_part_network();
        let (bnd, src) = ([21.0, 37.0], [3.0, 0.5]);
        let mut jump = net.discretize_held(60.0, &bnd, &src);
        let mut state = net.state_from(&[30.0, 28.0, 33.0, 36.0]);
        rest_at_fixed_point(&mut jump, &mut state);
        for node in 0..state.temps_c.len() {
            let mut nudged = state.clone();
            nudged.temps_c[node] = f64::from_bits(nudged.temps_c[node].to_bits() + 1);
            let mut stepped = nudged.clone();
            let mut pending = PendingFlows::default();
            net.discretize_held(60.0, &bnd, &src)
                .step(&mut stepped, &mut pending);
            jump.clone().step(&mut nudged, &mut PendingFlows::default());
            assert_eq!(stepped.temps_c, nudged.temps_c, "node {node}");
        }
    }

    /// Two nodes that exchange heat with each other and, all but nothing, with ambient (their A
    /// is singular to working precision), with a one-way link between them when `one_way`;
    /// beside them, a grounded node with a real flow to ambient.
    fn all_but_cut_off(one_way: bool) -> ThermalNetwork {
        let mut net = ThermalNetwork::new();
        let amb = net.add_boundary();
        let x = net.add_node(2.0);
        let y = net.add_node(3.0);
        net.link(x, y, 0.5);
        net.link_boundary(y, amb, 1e-30);
        let z = net.add_node(4.0);
        net.link_boundary(z, amb, 0.3);
        net.link_one_way(x, z, 0.0);
        if one_way {
            net.link_one_way(y, x, 0.1);
        }
        net.add_source(&[(x, 1.0), (z, 1.0)]);
        net
    }

    /// The held jump of `all_but_cut_off` against the full step, for each length.
    fn held_jump_is_the_full_step(net: &ThermalNetwork, lengths: &[f64]) {
        for &dt in lengths {
            let mut a = net.state_from(&[30.0, 20.0, 25.0]);
            let mut b = a.clone();
            net.discretize(dt).step(&mut a, &[21.0], &[0.7]);
            net.discretize_held(dt, &[21.0], &[0.7])
                .step_settled(&mut b);
            if let Some(e) = same_step(&a, &b) {
                panic!("dt {dt}: {e}");
            }
        }
    }

    #[test]
    fn held_jump_of_a_part_all_but_cut_off_from_its_boundary_takes_the_augmented_flows() {
        // Not reciprocal, so the part takes the exponential; its A is singular, so the solve for
        // the flow integral fails and the flows ride in the augmented exponential.
        let net = all_but_cut_off(true);
        assert_eq!(net.jump_basis().modal_parts(), 1, "only the grounded node");
        held_jump_is_the_full_step(&net, &[0.5, 60.0]);
    }

    #[test]
    fn held_jump_of_a_reciprocal_part_all_but_cut_off_from_its_boundary_uses_a_zero_rate() {
        // The same part with conduction only: its modes include a rate of ~1e-31 /s, where the
        // φ functions are taken as series (t and t²/2).
        let net = all_but_cut_off(false);
        assert_eq!(net.jump_basis().modal_parts(), 2);
        held_jump_is_the_full_step(&net, &[0.5, 60.0, 57_600.0]);
    }

    proptest! {
        #[test]
        fn energy_is_conserved_over_piecewise_constant_drive(
            params in prop::collection::vec(0.0f64..1.0, 22),
            segments in prop::collection::vec((0.01f64..600.0, 0.0f64..5.0, 0.0f64..3.0, 15.0f64..40.0), 1..8),
        ) {
            let (net, _) = random_network(&params);
            let mut st = net.uniform_state(33.0);
            let e0 = net.stored_energy_j(&st.temps_c);
            let mut energy_in = 0.0;
            let mut throughput = 0.0;
            for &(dt, p_led, p_light, t_amb) in &segments {
                let d = net.discretize(dt);
                d.step(&mut st, &[t_amb, 37.0], &[p_led, p_light]);
                energy_in += (p_led * net.source_gain(SourceId(0)) + p_light * net.source_gain(SourceId(1))) * dt;
                throughput += (p_led + p_light) * dt;
            }
            let stored = net.stored_energy_j(&st.temps_c) - e0;
            let out: f64 = st.flow_j[..net.boundary_count()].iter().sum();
            let one_way_in: f64 = st.flow_j[net.boundary_count()..].iter().sum();
            let scale = throughput + st.flow_j.iter().map(|f| f.abs()).sum::<f64>();
            let imbalance = energy_in + one_way_in - stored - out;
            prop_assert!(imbalance.abs() <= ENERGY_BALANCE_REL * scale,
                "in {energy_in} + one-way {one_way_in} vs stored {stored} + out {out}");
        }

        #[test]
        fn more_power_never_lowers_a_steady_temperature(
            params in prop::collection::vec(0.0f64..1.0, 22),
            p in 0.0f64..5.0, extra in 0.0f64..5.0, which in 0usize..2,
        ) {
            let (net, _) = random_network(&params);
            let base = net.steady_state(&[25.0, 37.0], &[p, p]).expect("grounded");
            let mut more = [p, p];
            more[which] += extra;
            let hot = net.steady_state(&[25.0, 37.0], &more).expect("grounded");
            for (h, b) in hot.iter().zip(&base) {
                prop_assert!(h >= &(b - JUMP_VS_STEPS_TOL_K), "{h} < {b}");
            }
        }

        #[test]
        fn one_jump_equals_many_small_steps(
            params in prop::collection::vec(0.0f64..1.0, 22),
            n_steps in 1usize..2000, dt in 0.001f64..2.0, p_led in 0.0f64..5.0,
        ) {
            let (net, _) = random_network(&params);
            let small = net.discretize(dt);
            let jump = net.discretize(dt * n_steps as f64);
            let mut a = net.uniform_state(30.0);
            let mut b = net.uniform_state(30.0);
            for _ in 0..n_steps {
                small.step(&mut a, &[22.0, 37.0], &[p_led, 1.0]);
            }
            jump.step(&mut b, &[22.0, 37.0], &[p_led, 1.0]);
            for (x, y) in a.temps_c.iter().zip(&b.temps_c) {
                prop_assert!((x - y).abs() < JUMP_VS_STEPS_TOL_K, "{x} vs {y}");
            }
        }

        #[test]
        fn held_tick_equals_the_full_step(
            params in prop::collection::vec(0.0f64..1.0, 22),
            dt in 0.001f64..2.0, p_led in prop::collection::vec(0.0f64..5.0, 20),
        ) {
            let (net, _) = random_network(&params);
            let full = net.discretize(dt);
            let held = full.with_held_inputs(&[22.0, 37.0], &[0.0, 1.0], &[SourceId(0)]);
            let mut a = net.uniform_state(30.0);
            let mut b = net.uniform_state(30.0);
            let mut pending = PendingFlows::default();
            for p in &p_led {
                full.step(&mut a, &[22.0, 37.0], &[*p, 1.0]);
                held.step(&mut b, &[*p], &mut pending);
            }
            prop_assert!(!pending.is_empty());
            held.flush(&mut pending, &mut b);
            prop_assert!(pending.is_empty());
            prop_assert!(same_step(&a, &b).is_none(), "{:?}", same_step(&a, &b));
        }

        #[test]
        fn modal_jump_equals_the_full_step(
            params in prop::collection::vec(0.0f64..1.0, 22),
            dt in 0.001f64..100_000.0, p_led in 0.0f64..5.0,
            lengths in prop::collection::vec(0.01f64..600.0, 1..4),
        ) {
            // The random network with its probe fed both ways: every part is reciprocal.
            let (mut net, _) = random_network(&params);
            let (h, probe) = (NodeId(2), NodeId(net.node_count() - 1));
            net.link(h, probe, 0.3);
            net.one_way_links.clear();
            let basis = net.jump_basis();
            prop_assert_eq!(basis.modal_parts(), 1);
            // One basis serves every length.
            for dt in std::iter::once(dt).chain(lengths) {
                let mut a = net.uniform_state(30.0);
                let mut b = net.uniform_state(30.0);
                net.discretize(dt).step(&mut a, &[22.0, 37.0], &[p_led, 1.0]);
                basis.discretize_held(dt, &[22.0, 37.0], &[p_led, 1.0]).step_settled(&mut b);
                prop_assert!(same_step(&a, &b).is_none(), "dt {}: {:?}", dt, same_step(&a, &b));
            }
        }

        #[test]
        fn held_jump_equals_the_full_step(
            params in prop::collection::vec(0.0f64..1.0, 22),
            dt in 0.001f64..100_000.0, p_led in 0.0f64..5.0,
        ) {
            let (net, _) = random_network(&params);
            let mut a = net.uniform_state(30.0);
            let mut b = net.uniform_state(30.0);
            net.discretize(dt).step(&mut a, &[22.0, 37.0], &[p_led, 1.0]);
            net.discretize_held(dt, &[22.0, 37.0], &[p_led, 1.0]).step_settled(&mut b);
            prop_assert!(same_step(&a, &b).is_none(), "{:?}", same_step(&a, &b));
        }
    }
}
