//! Body zones and tissue (placeholder).
