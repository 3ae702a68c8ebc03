//! The bench: plant and device under test in closed loop, in virtual time, judged by properties.
