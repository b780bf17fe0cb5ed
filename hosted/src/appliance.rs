//! Host tools for the seL4 appliance: its serial console, its raw disk image as a block
//! device, and exporting that disk as a plain tlog-tiles directory.

pub mod console;
pub mod diskfile;
pub mod image;
