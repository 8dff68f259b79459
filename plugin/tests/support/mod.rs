//! Shared by the Azure Blob Storage tests: the emulator, a writer that commits blobs as
//! Azure does, a fault-injecting proxy.
#![allow(dead_code)]

pub mod azurite;
pub mod proxy;
pub mod sink;
pub mod writer;
