//! The instance pool: its size, and how much of it one instance of a rule takes.
//!
//! wasmtime's pooling allocator has separate limits for component instances, core instances,
//! linear memories and tables. A component is made of several core modules (a Rust rule 3, the
//! JavaScript rule 8, a Python rule 14), so a pool counted in component instances alone runs out
//! of core instances first: with wasmtime's defaults, 72 concurrent Python evaluations exhaust
//! it, and every call beyond fails. Here the pool is counted in *slots*: each slot carries a
//! share of every resource, a rule's instance takes as many slots as its largest need, and
//! admission takes those slots before instantiating, so the allocator itself never runs out.

use wasmtime::component::Component;
use wasmtime::wasmparser::{Instance, Parser, Payload};
use wasmtime::{Enabled, PoolingAllocationConfig};

/// Slots in the pool: at most this many rule instances at once (fewer for big rules), unless
/// `WASMHOOK_POOL_SLOTS` says otherwise.
pub const SLOTS: u32 = 1000;
/// Sets the number of slots (1 to 100,000). Each slot reserves address space for its linear
/// memories up front (about 8 GiB with wasmtime's defaults, almost none of it resident): a
/// process under an address-space limit (`ulimit -v`), or under valgrind, which cannot map
/// the default pool's terabytes, needs fewer.
pub const SLOTS_VAR: &str = "WASMHOOK_POOL_SLOTS";
/// Core instances, memories and tables each slot provides. The pool holds `SLOTS` times each.
const CORE_INSTANCES_PER_SLOT: u32 = 8;
const MEMORIES_PER_SLOT: u32 = 2;
const TABLES_PER_SLOT: u32 = 2;
/// Most slots one rule instance may take; a component needing more is refused at load.
pub const MAX_SLOTS_PER_INSTANCE: u32 = 16;

/// Memory (and table) bytes a pooled slot keeps resident between instances, when dirty pages can
/// be found cheaply: more than a Rust, C or JavaScript rule dirties in a call (measured: no page
/// faults), while wasmtime's 100 warm slots at most hold 100 MiB this way.
const KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// The pooling allocator's configuration for `slots` slots (see [`slots`]).
pub fn config(slots: u32) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots);
    // One fiber stack per running evaluation (they run async).
    pool.total_stacks(slots);
    pool.total_core_instances(slots * CORE_INSTANCES_PER_SLOT);
    pool.total_memories(slots * MEMORIES_PER_SLOT);
    pool.total_tables(slots * TABLES_PER_SLOT);
    pool.max_core_instances_per_component(MAX_SLOTS_PER_INSTANCE * CORE_INSTANCES_PER_SLOT);
    pool.max_memories_per_component(MAX_SLOTS_PER_INSTANCE * MEMORIES_PER_SLOT);
    pool.max_tables_per_component(MAX_SLOTS_PER_INSTANCE * TABLES_PER_SLOT);
    // Reset a used slot by rewriting only its dirty pages, found with the PAGEMAP_SCAN ioctl
    // (Linux 6.7+), instead of discarding them with madvise: the next instance then starts
    // without page faults or TLB shootdowns. Halves an evaluation of a small rule.
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(Enabled::Yes);
        pool.linear_memory_keep_resident(KEEP_RESIDENT_BYTES);
        pool.table_keep_resident(KEEP_RESIDENT_BYTES);
    }
    pool
}

/// The pool's slots: [`SLOTS`], or `WASMHOOK_POOL_SLOTS` when it holds a number in range (read
/// once, when the engine is built).
pub fn slots() -> u32 {
    let value = std::env::var(SLOTS_VAR).ok();
    slots_from(value.as_deref()).unwrap_or_else(|| {
        tracing::warn!(
            value,
            default = SLOTS,
            "{SLOTS_VAR} is not a number from 1 to 100000; using the default"
        );
        SLOTS
    })
}

/// The slots `value` (the variable's text, if set) asks for; `None` when it is out of range or
/// not a number.
fn slots_from(value: Option<&str>) -> Option<u32> {
    match value {
        None => Some(SLOTS),
        Some(value) => match value.trim().parse() {
            Ok(slots @ 1..=100_000) => Some(slots),
            _ => None,
        },
    }
}

/// What one instance of a component takes from the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    pub core_instances: u32,
    pub memories: u32,
    pub tables: u32,
}

impl Footprint {
    /// Counts the core instances, memories and tables an instance of `component` (compiled
    /// from `bytes`) creates.
    pub fn of(component: &Component, bytes: &[u8]) -> Result<Footprint, String> {
        let core_instances = count_core_instances(bytes)?;
        // Exact when every core module is defined inside the component (wasmtime's own count);
        // a component that imports core modules is counted at the most it may take.
        let (memories, tables) = match component.resources_required() {
            Some(resources) => (resources.num_memories, resources.num_tables),
            None => (
                MAX_SLOTS_PER_INSTANCE * MEMORIES_PER_SLOT,
                MAX_SLOTS_PER_INSTANCE * TABLES_PER_SLOT,
            ),
        };
        Ok(Footprint {
            core_instances,
            memories,
            tables,
        })
    }

    /// Slots one instance takes: enough for its largest need, at least one.
    pub fn slots(self) -> u32 {
        [
            self.core_instances.div_ceil(CORE_INSTANCES_PER_SLOT),
            self.memories.div_ceil(MEMORIES_PER_SLOT),
            self.tables.div_ceil(TABLES_PER_SLOT),
            1,
        ]
        .into_iter()
        .max()
        .expect("not empty")
    }
}

/// Core module instantiations anywhere in the component, nested components included (each is
/// instantiated once by the tools that build rules).
fn count_core_instances(bytes: &[u8]) -> Result<u32, String> {
    let mut count = 0u32;
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::InstanceSection(instances) = payload.map_err(|e| e.to_string())? {
            for instance in instances {
                if let Instance::Instantiate { .. } = instance.map_err(|e| e.to_string())? {
                    count += 1;
                }
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_takes_slots_for_its_largest_need() {
        let footprint = |core_instances, memories, tables| Footprint {
            core_instances,
            memories,
            tables,
        };
        assert_eq!(footprint(3, 1, 2).slots(), 1, "a Rust rule");
        assert_eq!(footprint(8, 2, 2).slots(), 1, "the JavaScript rule");
        assert_eq!(footprint(14, 1, 2).slots(), 2, "a Python rule");
        assert_eq!(footprint(1, 5, 0).slots(), 3);
        assert_eq!(footprint(0, 0, 0).slots(), 1);
    }

    #[test]
    fn the_slots_variable_is_used_only_when_it_is_a_number_in_range() {
        assert_eq!(slots_from(None), Some(SLOTS));
        assert_eq!(slots_from(Some("4")), Some(4));
        assert_eq!(slots_from(Some(" 100000 ")), Some(100_000));
        assert_eq!(slots_from(Some("0")), None);
        assert_eq!(slots_from(Some("100001")), None);
        assert_eq!(slots_from(Some("-3")), None);
        assert_eq!(slots_from(Some("many")), None);
        assert_eq!(slots_from(Some("")), None);
    }
}
