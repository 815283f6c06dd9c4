//! Pure routing (skeleton).
