//! Client: filled in below.
