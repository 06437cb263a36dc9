//! Counters of this process from `/proc/self/stat` (Linux), shared by the benchmarks.

/// The `n`th field of `/proc/self/stat`, counting from 1 as `man 5 proc` does.
fn field(n: usize) -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux)");
    // Fields 3 onwards follow the command name, which is in parentheses and may hold spaces.
    let after_name = stat.rsplit_once(')').expect("a stat line").1;
    let value = after_name
        .split_whitespace()
        .nth(n - 3)
        .expect("enough fields");
    value.parse().expect("a number")
}

/// Minor page faults taken so far: what touching fresh copy-on-write memory costs.
#[allow(dead_code, reason = "each benchmark uses what it needs")]
pub fn minor_page_faults() -> u64 {
    field(10) as u64
}

/// CPU time (user + system) used so far, in seconds: what the process cost, whatever share of
/// the machine other processes took. `utime` and `stime` are in clock ticks, 100 per second.
#[allow(dead_code, reason = "each benchmark uses what it needs")]
pub fn cpu_seconds() -> f64 {
    (field(14) + field(15)) / 100.0
}
